"""Ports and adapters for payment providers. No database, no HTTP framework: neutral objects in,
neutral objects out (see ``base``)."""
