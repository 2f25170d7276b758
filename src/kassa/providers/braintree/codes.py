"""Braintree's own codes, and the kassa-style codes they become.

Processor response codes (2000–3000) are what the card networks answered, as Braintree's
"processor responses" reference lists them; gateway rejection reasons are Braintree's own
refusals (its fraud tools, CVV/AVS rules, duplicate checking); validation codes (81xxx, 91xxx,
92xxx) say the request itself was wrong. Only the decline codes kassa recognises are mapped;
every other processor code becomes ``generic_decline`` (the raw code is always kept).
"""

from __future__ import annotations

from kassa.providers.errors import INVALID_PAYMENT_METHOD, PROVIDER_REJECTED

# Processor response code -> kassa decline code (Stripe's vocabulary, the one kassa speaks).
PROCESSOR_DECLINES: dict[str, str] = {
    "2000": "do_not_honor",
    "2001": "insufficient_funds",
    "2002": "card_velocity_exceeded",  # Limit Exceeded
    "2003": "withdrawal_count_limit_exceeded",  # Cardholder's Activity Limit Exceeded
    "2004": "expired_card",
    "2005": "incorrect_number",  # Invalid Credit Card Number
    "2006": "invalid_expiry_year",  # Invalid Expiration Date
    "2007": "invalid_account",  # No Account
    "2008": "incorrect_number",  # Card Account Length Error
    "2009": "invalid_account",  # No Such Issuer
    "2010": "incorrect_cvc",  # Card Issuer Declined CVV
    "2011": "call_issuer",  # Voice Authorization Required
    "2012": "lost_card",  # Possible Lost Card
    "2013": "stolen_card",  # Possible Stolen Card
    "2014": "fraudulent",  # Fraud Suspected
    "2015": "transaction_not_allowed",
    "2016": "duplicate_transaction",
    "2017": "stop_payment_order",  # Cardholder Stopped Billing
    "2018": "revocation_of_all_authorizations",  # Cardholder Stopped All Billing
    "2019": "transaction_not_allowed",  # Invalid Transaction
    "2020": "security_violation",  # Violation
    "2021": "security_violation",
    "2024": "card_not_supported",  # Card Type Not Enabled
    "2038": "generic_decline",  # Processor Declined
    "2041": "call_issuer",  # Declined – Call For Approval
    "2044": "call_issuer",  # Declined – Call Issuer
    "2046": "generic_decline",  # Declined
    "2047": "pickup_card",  # Call Issuer. Pick Up Card
    "2053": "lost_card",  # Card reported as lost or stolen
    "2057": "restricted_card",  # Issuer or Cardholder has put a restriction on the card
    "2059": "incorrect_zip",  # Address Verification Failed
    "2060": "incorrect_cvc",  # Address Verification and Card Security Code Failed
    "3000": "processing_error",  # Processor Network Unavailable – Try Again
}

# Gateway rejection reason -> kassa decline code.
GATEWAY_REJECTIONS: dict[str, str] = {
    "avs": "incorrect_zip",
    "avs_and_cvv": "incorrect_cvc",
    "cvv": "incorrect_cvc",
    "fraud": "fraudulent",
    "risk_threshold": "fraudulent",
    "duplicate": "duplicate_transaction",
    "three_d_secure": "authentication_required",
    "excessive_retry": "try_again_later",
    "token_issuance": "processing_error",
    "application_incomplete": "generic_decline",
}


def decline_code_for(processor_code: str | None) -> str:
    if processor_code and processor_code in PROCESSOR_DECLINES:
        return PROCESSOR_DECLINES[processor_code]
    return "generic_decline"


# Validation codes (ErrorResult.errors) that say the payment method is unusable.
PAYMENT_METHOD_ERRORS = frozenset(
    {
        "81714",  # credit card number is required
        "81715",  # credit card number is invalid
        "91508",  # cannot determine payment method
        "91517",  # payment method token card type is not accepted
        "91518",  # payment method token is invalid
        "91564",  # payment method nonce consumed
        "91565",  # payment method nonce unknown
        "91567",  # payment method nonce card type is not accepted
        "91731",  # (vaulting a card) nonce consumed
        "91732",  # (vaulting a card) nonce unknown
        "93102",  # (payment method) nonce is invalid
        "93107",  # (payment method) nonce consumed
        "93108",  # (payment method) nonce unknown
        "93103",  # nonce is required
    }
)

# Codes of the adapter's own transient refusals (recorded on attempts, like TIMEOUT).
DUPLICATE_PENDING = "duplicate_pending"  # a duplicate of a sale search does not show yet

CUSTOMER_ID_IN_USE = "91609"
CANNOT_BE_VOIDED = "91504"
CANNOT_REFUND_UNLESS_SETTLED = "91506"
CANNOT_REFUND_SETTLING = "91574"
CANNOT_SUBMIT_FOR_SETTLEMENT = "91507"


def rejection_code_for(codes: list[str]) -> str:
    """The stable kassa code for a request Braintree refused as invalid."""
    if any(code in PAYMENT_METHOD_ERRORS for code in codes):
        return INVALID_PAYMENT_METHOD.code
    return PROVIDER_REJECTED.code
