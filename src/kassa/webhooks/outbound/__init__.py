"""Outbound webhooks: merchant endpoints, signed deliveries with retries, replay, auto-disable."""
