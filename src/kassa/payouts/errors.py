"""The catalog entries of every code payouts raise (``raise AFFILIATE_CODE_TAKEN("...")``)."""

from __future__ import annotations

from kassa.core.error_catalog import declare
from kassa.core.errors import (
    Conflict,
    InvalidRequest,
    InvalidStateTransition,
    PermissionDenied,
    ServiceUnavailable,
)

AFFILIATE_CODE_TAKEN = declare(
    "affiliate_code_taken", Conflict, "Another affiliate of the account has this code."
)
AFFILIATE_UNKNOWN = declare(
    "affiliate_unknown", InvalidRequest, "No affiliate of the account has this code."
)
PAYEE_TAKEN = declare(
    "payee_taken", Conflict, "This payout provider account is registered for a payee already."
)
PAYOUT_PROVIDER_UNAVAILABLE = declare(
    "payout_provider_unavailable",
    ServiceUnavailable,
    "The payout provider did not answer; the same request again is safe (same idempotency key).",
)
PAYEE_NOT_LINKED = declare(
    "payee_not_linked",
    InvalidStateTransition,
    "The payee has no account at the provider yet (invite them, or give `provider_payee_id`).",
)
PAYOUT_PROVIDER_UNCONFIGURED = declare(
    "payout_provider_unconfigured",
    InvalidRequest,
    "The payout provider chosen (Rise) lacks settings: set the `RISE_*` settings, or "
    "`KASSA_PAYOUT_PROVIDER=mock` to try payouts; refused before anything is written.",
)
COMMISSION_NOT_APPROVABLE = declare(
    "commission_not_approvable", InvalidStateTransition, "Only a pending commission is approved."
)
SUBSCRIPTION_EVENT_INVALID = declare(
    "subscription_event_invalid",
    InvalidRequest,
    "The subscription event is missing what its type needs (an upgrade's tiers, an amount).",
)
PAYOUT_BATCH_NOT_CANCELLABLE = declare(
    "payout_batch_not_cancellable",
    InvalidStateTransition,
    "The payout batch was executed already (only a pending or queued batch is cancelled).",
)
AFFILIATE_NOT_PERMITTED = declare(
    "affiliate_not_permitted",
    PermissionDenied,
    "An affiliate user reads its own payout records and changes only its payout preferences "
    "(`minimum_payout`, `schedule`, `schedule_time`, `schedule_timezone`); audited.",
)
