"""Provider events (Stripe, PayPal, Braintree webhooks, verified and stored by
``webhooks.inbound``) applied to kassa's payments, refunds and disputes.

``handler.apply_provider_event`` is the job ``payins.apply_provider_event``; each provider's
parser (``stripe.py``, ``paypal.py``, ``braintree.py``) documents the payload it reads and
makes a neutral update (``updates.py``); ``lookup.py`` finds the payment within the event's
account; ``apply.py`` and ``refunds.py`` (and ``payins.disputes``) apply it. docs/payments.md
("Provider events") says what each event does.
"""
