"""Inbound webhooks: receive a provider's event, verify it on the raw bytes, store it once
(unique per provider and event id), answer 2xx, and hand it over by job for processing."""
