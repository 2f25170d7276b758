"""Affiliate payouts: affiliates and their payee accounts, commissions from subscription
events, aggregation into payout batches (seeds 000 and 001; docs/payouts.md)."""
