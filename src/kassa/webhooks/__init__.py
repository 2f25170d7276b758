"""Webhooks: inbound provider webhooks and outbound webhooks to merchants."""
