"""Stablecoin payment sessions (seed 002): a price in USD, paid in USDC/USDT on a configured
chain to the merchant's own address (kassa never holds the funds), bound to the transfers
the chain monitor records, completed once they have enough confirmations."""
