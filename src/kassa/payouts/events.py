"""The payout event types, declared in the catalog with examples built by the API's own
models (``CommissionOut``, ``PayoutBatchOut``) in the state each event announces."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kassa.jobs.catalog import declare_event
from kassa.payouts.models import Commission, PayoutBatch, PayoutTransaction
from kassa.payouts.schemas import CommissionOut, PayoutBatchOut, PayoutOut

_AT = datetime(2026, 1, 27, 10, 0, 0, tzinfo=UTC)
_LATER = datetime(2026, 1, 28, 9, 0, 0, tzinfo=UTC)


def _commission(**changes: Any) -> Commission:
    values: dict[str, Any] = {
        "id": "com_01JD2XA1B2C3D4E5F6G7H8J9KM",
        "livemode": False,
        "affiliate_id": "aff_01JD2X7M4N5P6Q7R8S9T0V1W2X",
        "source_event_id": "sev_01JD2XA0Z9Y8X7W6V5T4S3R2Q1",
        "subscription_id": "sub_1042",
        "kind": "new_subscription",
        "rate_bps": 2500,
        "base_amount": 4900,
        "amount": 1225,
        "currency": "USD",
        "status": "pending",
        "batch_id": None,
        "transaction_id": None,
        "approved_at": None,
        "paid_at": None,
        "created_at": _AT,
        "updated_at": _AT,
    }
    values.update(changes)
    return Commission(**values)


_TX_STATUS = {"cancelled": "cancelled", "completed": "completed", "failed": "failed"}


def _batch(status: str = "pending", **changes: Any) -> dict[str, Any]:
    batch = PayoutBatch(
        id="pob_01JD2XB1C2D3E4F5G6H7J8K9MN",
        livemode=False,
        number="PB-20260128-7K9MN",
        provider="rise",
        currency="USD",
        total=12250,
        payment_count=1,
        status=status,
        error_message="Every payment of the batch failed." if status == "failed" else None,
        executed_at=changes.get("completed_at"),
        completed_at=changes.get("completed_at"),
        cancelled_at=changes.get("cancelled_at"),
        created_at=_LATER,
        updated_at=changes.get("cancelled_at", _LATER),
    )
    transaction = _transaction(_TX_STATUS.get(status, "pending"))
    return PayoutBatchOut.of(batch, [transaction]).json_value()


def _transaction(status: str, **changes: Any) -> PayoutTransaction:
    """The example payee's transaction in ``status`` (``changes``: its outcome)."""
    values: dict[str, Any] = {
        "id": "pot_01JD2XB2C3D4E5F6G7H8J9KMNP",
        "payee_id": "pye_01JD2X8A1B2C3D4E5F6G7H8J9K",
        "affiliate_id": "aff_01JD2X7M4N5P6Q7R8S9T0V1W2X",
        "provider_payee_id": "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4",
        "amount": 12250,
        "currency": "USD",
        "commission_count": 10,
        "status": status,
        "attempts": 0,
        "provider_transaction_id": None,
        "error_code": None,
        "error_message": None,
        "completed_at": None,
        "created_at": _LATER,
    }
    return PayoutTransaction(**{**values, **changes})


def _payout(status: str) -> dict[str, Any]:
    batch = PayoutBatch(id="pob_01JD2XB1C2D3E4F5G6H7J8K9MN", number="PB-20260128-7K9MN")
    batch.livemode = False
    failed = status == "failed"
    transaction = _transaction(
        status,
        attempts=1,
        provider_transaction_id="pa-4f1c2b7e9d0a3c5b",
        error_code="payee_not_payable" if failed else None,
        error_message="The payee's KYC is pending" if failed else None,
        completed_at=None if failed else _LATER,
    )
    return PayoutOut.of_batch(transaction, batch).json_value()


EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "commission.created": (
        "An affiliate earned a commission (status pending; an adjustment for a refund or "
        "chargeback is negative and approved at once).",
        CommissionOut.of(_commission()).json_value(),
    ),
    "commission.approved": (
        "A commission was approved and will be paid with the affiliate's next payout.",
        CommissionOut.of(_commission(status="approved", approved_at=_LATER)).json_value(),
    ),
    "payout.batch.created": (
        "A payout batch was created from the approved commissions due and queued for "
        "execution (status queued).",
        _batch("queued"),
    ),
    "payout.batch.completed": (
        "Nothing of the batch is open any more and some of it was paid: see each "
        "transaction's status (a partly failed batch is completed too).",
        _batch("completed", completed_at=_LATER),
    ),
    "payout.batch.failed": (
        "Every payment of the batch failed; see each transaction's error_code.",
        _batch("failed", completed_at=_LATER),
    ),
    "payout.paid": (
        "A payee's payout was paid (Rise confirmed it: by webhook or status poll); its "
        "commissions are paid.",
        _payout("completed"),
    ),
    "payout.failed": (
        "A payee's payout failed for good (after the retries, or a payee Rise cannot pay); "
        "its commissions are failed. See error_code.",
        _payout("failed"),
    ),
    "payout.batch.cancelled": (
        "A payout batch not yet executed was cancelled; its commissions are approved and due "
        "again.",
        _batch("cancelled", cancelled_at=datetime(2026, 1, 28, 9, 30, 0, tzinfo=UTC)),
    ),
}


def declare() -> None:
    for name, (description, example) in EXAMPLES.items():
        declare_event(name, description, example)


declare()
