"""Pay-in errors beyond the core tree (the API maps PaymentDeclined to 402, like Stripe)."""

from __future__ import annotations

from kassa.core.errors import InvalidRequest, KassaError, ServiceUnavailable


class PaymentDeclined(KassaError):
    """The provider declined the payment; ``details`` carries decline_code and payment id."""

    code = "card_declined"
    default_message = "The card was declined."


class CardNumberRefused(InvalidRequest):
    code = "card_number_refused"
    default_message = (
        "The request contains what looks like a card number. kassa never accepts card "
        "numbers: tokenize the card with your provider and send the token."
    )


class ProviderUnavailable(ServiceUnavailable):
    code = "provider_unavailable"
    default_message = "No payment provider could take the payment. Try again shortly."
