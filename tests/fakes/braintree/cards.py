"""The sandbox's test nonces and amounts, as Braintree's testing reference lists them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Card:
    card_type: str
    number: str
    exp_month: str = "12"
    exp_year: str = "2030"

    @property
    def bin(self) -> str:
        return self.number[:6]

    @property
    def last_4(self) -> str:
        return self.number[-4:]


VISA = Card("Visa", "4111111111111111")
VISA_DECLINED = Card("Visa", "4000111111111115")
MASTERCARD = Card("MasterCard", "5555555555554444")
MASTERCARD_DECLINED = Card("MasterCard", "5105105105105100")
AMEX = Card("American Express", "378282246310005")
DISCOVER = Card("Discover", "6011111111111117")
JCB = Card("JCB", "3530111333300000")


@dataclass(frozen=True)
class NonceOutcome:
    """What charging a nonce does, whatever the amount: a processor response, a gateway
    rejection, or a validation error (Braintree error code, attribute, message)."""

    card: Card
    processor_code: str | None = None  # a decline (2xxx) or failure (3000)
    rejection: str | None = None
    validation: tuple[str, str, str] | None = None


FAKE_NONCES: dict[str, NonceOutcome] = {
    "fake-valid-nonce": NonceOutcome(VISA),
    "fake-valid-visa-nonce": NonceOutcome(VISA),
    "fake-valid-mastercard-nonce": NonceOutcome(MASTERCARD),
    "fake-valid-amex-nonce": NonceOutcome(AMEX),
    "fake-valid-discover-nonce": NonceOutcome(DISCOVER),
    "fake-valid-jcb-nonce": NonceOutcome(JCB),
    "fake-processor-declined-visa-nonce": NonceOutcome(VISA_DECLINED, processor_code="2000"),
    "fake-processor-declined-mastercard-nonce": NonceOutcome(
        MASTERCARD_DECLINED, processor_code="2000"
    ),
    "fake-processor-failure-jcb-nonce": NonceOutcome(JCB, processor_code="3000"),
    "fake-gateway-rejected-fraud-nonce": NonceOutcome(VISA, rejection="fraud"),
    "fake-gateway-rejected-risk-thresholds-nonce": NonceOutcome(VISA, rejection="risk_threshold"),
    "fake-luhn-invalid-nonce": NonceOutcome(
        VISA, validation=("81715", "number", "Credit card number is invalid.")
    ),
    "fake-consumed-nonce": NonceOutcome(
        VISA,
        validation=(
            "91564",
            "payment_method_nonce",
            "Cannot use a payment_method_nonce more than once.",
        ),
    ),
}

PROCESSOR_TEXT = {
    "1000": "Approved",
    "2000": "Do Not Honor",
    "2001": "Insufficient Funds",
    "2002": "Limit Exceeded",
    "2003": "Cardholder's Activity Limit Exceeded",
    "2004": "Expired Card",
    "2005": "Invalid Credit Card Number",
    "2010": "Card Issuer Declined CVV",
    "2014": "Processor Declined - Fraud Suspected",
    "2038": "Processor Declined",
    "2046": "Declined",
    "3000": "Processor Network Unavailable - Try Again",
    "4001": "Settlement Declined",
}


def processor_text(code: str) -> str:
    return PROCESSOR_TEXT.get(code, "Processor Declined")


def amount_outcome(amount: Decimal) -> tuple[str | None, str | None]:
    """(processor code, gateway rejection) the sandbox gives an amount, for a card that
    would otherwise be approved."""
    if Decimal("2000") <= amount < Decimal("3000"):
        return str(int(amount)), None
    if Decimal("3000") <= amount < Decimal("3001"):
        return "3000", None
    if amount == Decimal("5001.00"):
        return None, "application_incomplete"
    return None, None


def settlement_declines(amount: Decimal) -> str | None:
    """The settlement response code of an amount whose settlement is declined."""
    if Decimal("4001") <= amount < Decimal("4002") or Decimal("4003") <= amount < Decimal("5001"):
        return str(int(amount))
    return None
