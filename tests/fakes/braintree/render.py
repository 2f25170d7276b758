"""The stand-in's records as the gateway's XML elements (see xml.py for the encoding)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from tests.fakes.braintree.cards import Card, processor_text
from tests.fakes.braintree.records import SOFT, Customer, Transaction, VaultedCard, money
from tests.fakes.braintree.xml import Array


def card_xml(card: Card, token: str | None, customer_id: str | None) -> dict[str, Any]:
    return {
        "token": token,
        "bin": card.bin,
        "last_4": card.last_4,
        "card_type": card.card_type,
        "expiration_month": card.exp_month,
        "expiration_year": card.exp_year,
        "expired": False,
        "customer_location": "US",
        "cardholder_name": None,
        "customer_id": customer_id,
        "unique_number_identifier": hashlib.sha256(card.number.encode()).hexdigest()[:32],
        "prepaid": "Unknown",
        "debit": "Unknown",
        "commercial": "Unknown",
        "country_of_issuance": "Unknown",
        "issuing_bank": "Unknown",
        "image_url": "https://assets.braintreegateway.com/payment_method_logo/visa.png",
    }


def transaction_xml(tx: Transaction, currency: str) -> dict[str, Any]:
    approved = tx.status not in ("processor_declined", "gateway_rejected", "failed")
    code = tx.processor_code
    response_type = (
        "approved" if code == "1000" else "soft_declined" if code in SOFT else "hard_declined"
    )
    return {
        "id": tx.id,
        "status": tx.status,
        "type": tx.type,
        "currency_iso_code": currency,
        "amount": money(tx.amount),
        "merchant_account_id": tx.merchant_account_id,
        "sub_merchant_account_id": None,
        "master_merchant_account_id": None,
        "order_id": tx.order_id,
        "created_at": tx.created_at,
        "updated_at": tx.updated_at,
        "customer": {
            "id": tx.customer_id,
            "first_name": None,
            "last_name": None,
            "email": None,
        },
        "billing": {"id": None, "first_name": None, "last_name": None, "postal_code": None},
        "refund_id": tx.refund_ids[-1] if tx.refund_ids else None,
        "refund_ids": Array("item", list(tx.refund_ids)),
        "refunded_transaction_id": tx.refunded_transaction_id,
        "partial_settlement_transaction_ids": Array("item", []),
        "authorized_transaction_id": None,
        "settlement_batch_id": None,
        "avs_error_response_code": None,
        "avs_postal_code_response_code": "M",
        "avs_street_address_response_code": "I",
        "cvv_response_code": "M",
        "gateway_rejection_reason": tx.rejection,
        "processor_authorization_code": "ABC123" if tx.rejection is None and approved else None,
        "processor_response_code": code if tx.rejection is None else "",
        "processor_response_text": processor_text(code) if tx.rejection is None else "Unknown ()",
        "processor_response_type": response_type,
        "additional_processor_response": None,
        "processor_settlement_response_code": tx.settlement_code or "",
        "processor_settlement_response_text": processor_text(tx.settlement_code)
        if tx.settlement_code
        else "",
        "network_response_code": "XX" if approved else "05",
        "network_transaction_id": "020" + tx.id.rjust(12, "0") if approved else None,
        "voice_referral_number": None,
        "purchase_order_number": None,
        "tax_amount": None,
        "tax_exempt": False,
        "recurring": False,
        "channel": None,
        "escrow_status": None,
        "payment_instrument_type": "credit_card",
        "credit_card": card_xml(tx.card, tx.token, tx.customer_id),
        "status_history": Array(
            "status_event",
            [
                {
                    "timestamp": event.at,
                    "status": event.status,
                    "amount": money(event.amount),
                    "user": "kassa_api_user",
                    "transaction_source": "api",
                }
                for event in tx.history
            ],
        ),
        "add_ons": Array("add_on", []),
        "discounts": Array("discount", []),
        "disputes": Array("dispute", list(tx.disputes)),
        "authorization_adjustments": Array("authorization_adjustment", []),
        "three_d_secure_info": None,
    }


def customer_xml(customer: Customer, merchant_id: str, cards: list[VaultedCard]) -> dict[str, Any]:
    return {
        "id": customer.id,
        "merchant_id": merchant_id,
        "first_name": None,
        "last_name": None,
        "company": None,
        "email": None,
        "phone": None,
        "fax": None,
        "website": None,
        "created_at": customer.created_at,
        "updated_at": customer.created_at,
        "credit_cards": Array("credit_card", [vaulted_xml(card) for card in cards]),
        "addresses": Array("address", []),
        "paypal_accounts": Array("paypal_account", []),
    }


def vaulted_xml(vaulted: VaultedCard) -> dict[str, Any]:
    body = card_xml(vaulted.card, vaulted.token, vaulted.customer_id)
    body.update(
        {
            "default": True,
            "created_at": vaulted.created_at,
            "updated_at": vaulted.created_at,
            "subscriptions": Array("subscription", []),
            "verifications": Array("verification", []),
        }
    )
    return body


def dispute_xml(
    tx: Transaction, currency: str, dispute_id: str, reason: str, opened: datetime
) -> dict[str, Any]:
    """A chargeback just opened on ``tx`` (as in ``dispute_opened`` notifications)."""
    return {
        "id": dispute_id,
        "amount": money(tx.amount),
        "amount_disputed": money(tx.amount),
        "amount_won": "0.00",
        "case_number": "CASE-" + dispute_id[:5].upper(),
        "created_at": opened,
        "currency_iso_code": currency,
        "kind": "chargeback",
        "merchant_account_id": tx.merchant_account_id,
        "reason": reason,
        "reason_code": "83",
        "reason_description": "Fraud - Card Absent Environment",
        "reference_number": "REF-" + dispute_id[:6].upper(),
        "forwarded_comments": None,
        "original_dispute_id": None,
        "received_date": opened.date(),
        "reply_by_date": opened.date(),
        "status": "open",
        "updated_at": opened,
        "evidence": Array("evidence", []),
        "status_history": Array("status_history", [{"status": "open", "timestamp": opened}]),
        "transaction": {
            "id": tx.id,
            "amount": money(tx.amount),
            "created_at": tx.created_at,
            "order_id": tx.order_id,
            "purchase_order_number": None,
            "payment_instrument_subtype": tx.card.card_type,
        },
        "date_opened": opened.date(),
    }
