"""Accounts (merchants), users and roles, API keys, user tokens and rate limits."""
