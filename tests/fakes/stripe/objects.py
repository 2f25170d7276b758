"""Stripe's objects as the stand-in answers with them: the keys of Stripe's published example
objects (shared/reference/stripe/fixtures3.json; tests/fakes/test_stripe_shapes.py holds the
builders to them), with values a fresh test-mode account would have."""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

from tests.fakes.stripe.cards import TestCard

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def now() -> int:
    return int(time.time())


def _address() -> dict[str, Any]:
    return dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))


def _billing_details() -> dict[str, Any]:
    return {"address": _address(), "email": None, "name": None, "phone": None, "tax_id": None}


def _card_checks() -> dict[str, Any]:
    return {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"}


EXP_MONTH, EXP_YEAR = 12, 2034


def payment_method(card: TestCard, *, livemode: bool = False) -> dict[str, Any]:
    return {
        "allow_redisplay": "unspecified",
        "billing_details": _billing_details(),
        "card": {
            "brand": card.brand,
            "checks": _card_checks(),
            "country": card.country,
            "display_brand": card.brand,
            "exp_month": EXP_MONTH,
            "exp_year": EXP_YEAR,
            "fingerprint": secrets.token_urlsafe(12)[:16],
            "funding": card.funding,
            "generated_from": None,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
            "regulated_status": "unregulated",
        },
        "created": now(),
        "customer": None,
        "id": new_id("pm"),
        "livemode": livemode,
        "metadata": {},
        "object": "payment_method",
        "type": "card",
        "customer_account": None,
    }


def customer(params: dict[str, Any], *, livemode: bool = False) -> dict[str, Any]:
    return {
        "address": None,
        "balance": 0,
        "created": now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description"),
        "discount": None,
        "email": params.get("email"),
        "id": new_id("cus", 14),
        "invoice_prefix": secrets.token_hex(4).upper()[:7],
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": livemode,
        "metadata": dict(params.get("metadata") or {}),
        "name": params.get("name"),
        "next_invoice_sequence": 1,
        "object": "customer",
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def payment_intent(
    params: dict[str, Any], *, amount: int, livemode: bool = False
) -> dict[str, Any]:
    pi_id = new_id("pi")
    types = params.get("payment_method_types")
    automatic = None
    if not types:
        given = params.get("automatic_payment_methods") or {}
        automatic = {"allow_redirects": given.get("allow_redirects", "always"), "enabled": True}
        types = ["card"]
    return {
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": automatic,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": params.get("capture_method") or "automatic_async",
        "client_secret": f"{pi_id}_secret_{new_id('x', 25)[2:]}",
        "confirmation_method": params.get("confirmation_method") or "automatic",
        "created": now(),
        "currency": params["currency"],
        "customer": params.get("customer"),
        "description": params.get("description"),
        "id": pi_id,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": livemode,
        "metadata": dict(params.get("metadata") or {}),
        "next_action": None,
        "object": "payment_intent",
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": list(types),
        "processing": None,
        "receipt_email": params.get("receipt_email"),
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
        "source": None,
        "excluded_payment_method_types": None,
        "customer_account": None,
        "managed_payments": {"enabled": False},
    }


def charge(intent: dict[str, Any], method: dict[str, Any], *, captured: bool) -> dict[str, Any]:
    card = method["card"]
    charge_id = new_id("ch")
    amount = intent["amount"]
    return {
        "amount": amount,
        "amount_captured": amount if captured else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": new_id("txn") if captured else None,
        "billing_details": method["billing_details"],
        "calculated_statement_descriptor": "KASSA TEST",
        "captured": captured,
        "created": now(),
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "id": charge_id,
        "livemode": intent["livemode"],
        "metadata": dict(intent["metadata"]),
        "object": "charge",
        "on_behalf_of": None,
        "outcome": {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": intent["id"],
        "payment_method": method["id"],
        "payment_method_details": {
            "card": {
                "amount_authorized": amount,
                "brand": card["brand"],
                "checks": card["checks"],
                "country": card["country"],
                "exp_month": card["exp_month"],
                "exp_year": card["exp_year"],
                "extended_authorization": {"status": "disabled"},
                "fingerprint": card["fingerprint"],
                "funding": card["funding"],
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": card["last4"],
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": card["brand"],
                "network_token": {"used": False},
                "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
                "three_d_secure": None,
                "wallet": None,
                "authorization_code": secrets.token_hex(3).upper(),
                "regulated_status": "unregulated",
                "network_transaction_id": secrets.token_hex(8),
                "transaction_link_id": None,
            },
            "type": "card",
        },
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{secrets.token_urlsafe(24)}",
        "refunded": False,
        "refunds": {
            "data": [],
            "has_more": False,
            "object": "list",
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
        "source": None,
    }


def refund(charge_: dict[str, Any], *, amount: int, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge_["id"],
        "created": now(),
        "currency": charge_["currency"],
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "id": new_id("re"),
        "metadata": dict(params.get("metadata") or {}),
        "object": "refund",
        "payment_intent": charge_["payment_intent"],
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
        "customer": charge_["customer"],
        "customer_account": None,
        "payment_method": charge_["payment_method"],
    }


_EVIDENCE = [
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
]


def dispute(charge_: dict[str, Any], *, reason: str, amount: int | None = None) -> dict[str, Any]:
    card = charge_["payment_method_details"]["card"]
    return {
        "amount": charge_["amount_captured"] if amount is None else amount,
        "balance_transactions": [],
        "charge": charge_["id"],
        "created": now(),
        "currency": charge_["currency"],
        "evidence": {**dict.fromkeys(_EVIDENCE), "enhanced_evidence": {}},
        "evidence_details": {
            "due_by": now() + 7 * 86400,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
            "enhanced_eligibility": {},
        },
        "id": new_id("dp"),
        "is_charge_refundable": False,
        "livemode": charge_["livemode"],
        "metadata": {},
        "object": "dispute",
        "payment_intent": charge_["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": card["brand"],
                "case_type": "chargeback",
                "network_reason_code": "10.4" if reason == "fraudulent" else "13.1",
                "network": card["network"],
            },
            "type": "card",
        },
        "reason": reason,
        "status": "needs_response",
        "enhanced_eligibility_types": [],
    }


def event(
    type_: str,
    obj: dict[str, Any],
    *,
    api_version: str,
    request_id: str | None,
    idempotency_key: str | None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "api_version": api_version,
        "created": now(),
        "data": data,
        "id": new_id("evt"),
        "livemode": obj.get("livemode", False),
        "object": "event",
        "pending_webhooks": 1,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": type_,
    }


def list_of(url: str, data: list[dict[str, Any]], *, has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def search_result(url: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "search_result",
        "data": data,
        "has_more": False,
        "next_page": None,
        "url": url,
    }
