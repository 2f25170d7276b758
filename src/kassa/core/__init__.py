"""Leaf layer: money, ids, errors, clock, crypto, database, audit, settings, logging, metrics."""
