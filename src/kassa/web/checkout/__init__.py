"""The hosted checkout page of stablecoin payment sessions (seed 002)."""
