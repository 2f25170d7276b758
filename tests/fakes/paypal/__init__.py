"""A PayPal stand-in (Orders v2, Payments v2, OAuth, webhooks) on loopback: see server.py."""

from tests.fakes.paypal.server import DECLINING_BUYER, FakePayPal, Fault

__all__ = ["DECLINING_BUYER", "FakePayPal", "Fault"]
