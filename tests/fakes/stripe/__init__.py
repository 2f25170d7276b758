"""A Stripe stand-in for tests: the official ``stripe`` SDK runs against it unchanged."""

from tests.fakes.stripe.server import TEST_KEY, WEBHOOK_SECRET, FakeStripe
from tests.fakes.stripe.webhooks import signature_header

__all__ = ["TEST_KEY", "WEBHOOK_SECRET", "FakeStripe", "signature_header"]
