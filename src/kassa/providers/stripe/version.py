"""The Stripe API version kassa speaks, sent as ``Stripe-Version`` on every request.

It is the version stripe-python 16.1.0 pins (``stripe._api_version._ApiVersion.CURRENT``):
the SDK's typed objects are generated for it. tests/providers/stripe checks the two agree, so
upgrading the SDK is a decision, never an accident.
"""

STRIPE_API_VERSION = "2026-10-28.endive"
