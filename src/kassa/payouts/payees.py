"""Payees: an affiliate's account at a payout provider, its invitation and its KYC state.

Inviting calls the provider, so it runs in the three steps of decision 0007: ``intend``
commits the invitation's idempotency key (status ``sending``) before the call, the call runs
outside any transaction, ``settle`` commits the answer. A crash between them leaves
``sending``: inviting again sends the same key, which the provider answers with the same
invitation instead of a second one.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import audit, clock, executor
from kassa.core.changes import ChangeSet
from kassa.core.errors import InvalidRequest, NotFound
from kassa.core.ids import new_id
from kassa.payouts.affiliates import get_affiliate
from kassa.payouts.errors import (
    PAYEE_NOT_LINKED,
    PAYEE_TAKEN,
    PAYOUT_PROVIDER_UNAVAILABLE,
)
from kassa.payouts.models import Payee
from kassa.payouts.provider import PROVIDERS
from kassa.providers.base import (
    InviteRequest,
    KycStatus,
    PayoutProvider,
    PermanentProviderError,
    ProviderError,
)
from kassa.providers.errors import INVALID_PAYEE

# The provider's KYC states in kassa's lifecycle: pending -> submitted -> approved | rejected.
KYC_FROM_PROVIDER: dict[KycStatus, str] = {
    "not_started": "pending",
    "pending": "submitted",
    "approved": "approved",
    "rejected": "rejected",
}


async def get_payee(
    session: AsyncSession, payee_id: str, *, affiliate_id: str, account_id: str, livemode: bool
) -> Payee:
    found = await session.scalar(
        select(Payee).where(
            Payee.id == payee_id,
            Payee.affiliate_id == affiliate_id,
            Payee.account_id == account_id,
            Payee.livemode == livemode,
        )
    )
    if found is None:
        raise NotFound(f"No such payee: {payee_id!r}.", param="payee_id")
    return found


async def create_payee(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    affiliate_id: str,
    installed: str,
    provider: str | None = None,
    email: str | None = None,
    provider_payee_id: str | None = None,
) -> Payee:
    """A payee at ``provider``, which must be ``installed`` (the install's payout provider,
    its default): a payee at another could never be paid."""
    affiliate = await get_affiliate(session, affiliate_id, account_id=account_id, livemode=livemode)
    provider = provider or installed
    if provider not in PROVIDERS:
        raise InvalidRequest(
            f"provider is one of {', '.join(PROVIDERS)}; got {provider!r}.", param="provider"
        )
    if provider != installed:
        raise InvalidRequest(
            f"This install pays out through {installed} (KASSA_PAYOUT_PROVIDER); a payee at "
            f"{provider} could not be paid.",
            param="provider",
        )
    if provider_payee_id is not None:
        taken = await session.scalar(
            select(Payee.id).where(
                Payee.provider == provider, Payee.provider_payee_id == provider_payee_id
            )
        )
        if taken is not None:
            raise PAYEE_TAKEN(
                "A payee with this provider account exists.", param="provider_payee_id"
            )
    now = clock.now()
    payee = Payee(
        id=new_id("pye"),
        account_id=account_id,
        livemode=livemode,
        affiliate_id=affiliate.id,
        provider=provider,
        provider_payee_id=provider_payee_id,
        email=email or affiliate.email,
        kyc_status="pending",
        invite_status="none",
        invite_key=None,
        invite_id=None,
        invite_error=None,
        invitation_sent_at=None,
        invitation_accepted_at=None,
        kyc_synced_at=None,
        created_at=now,
        updated_at=now,
    )
    audit.add_created(
        session, payee, "payee", account_id=account_id, after={"affiliate_id": affiliate.id}
    )
    try:
        await session.flush()
    except IntegrityError:  # the same provider account, registered concurrently
        raise PAYEE_TAKEN(
            "A payee with this provider account exists.", param="provider_payee_id"
        ) from None
    return payee


def list_query(*, account_id: str, livemode: bool, affiliate_id: str) -> Select[Payee]:
    return select(Payee).where(
        Payee.account_id == account_id,
        Payee.livemode == livemode,
        Payee.affiliate_id == affiliate_id,
    )


class _Owner:
    def __init__(self, account_id: str, livemode: bool, affiliate_id: str, payee_id: str):
        self.account_id, self.livemode = account_id, livemode
        self.affiliate_id, self.payee_id = affiliate_id, payee_id

    async def read(self, reads: AsyncSession) -> Payee:
        return await get_payee(
            reads,
            self.payee_id,
            affiliate_id=self.affiliate_id,
            account_id=self.account_id,
            livemode=self.livemode,
        )


async def invite(
    sessions: async_sessionmaker[AsyncSession],
    provider: PayoutProvider,
    *,
    account_id: str,
    livemode: bool,
    affiliate_id: str,
    payee_id: str,
) -> Payee:
    """Invite the payee to open an account at the provider (once: an invitation sent or
    accepted is not sent again)."""
    owner = _Owner(account_id, livemode, affiliate_id, payee_id)

    async def intend(reads: AsyncSession) -> tuple[ChangeSet, tuple[Payee, str | None]]:
        payee = await owner.read(reads)
        changes = ChangeSet()
        if payee.invite_status in ("sent", "accepted"):
            return changes, (payee, None)
        if payee.invite_status == "sending" and payee.invite_key:
            return changes, (payee, payee.invite_key)  # an earlier call's outcome is unknown
        key = f"{payee.id}/invite" if payee.invite_key is None else f"{new_id('inv')}/invite"
        changes.guard(payee, invite_status=payee.invite_status)
        payee.invite_status, payee.invite_key, payee.invite_error = "sending", key, None
        payee.updated_at = clock.now()
        return changes, (payee, key)

    payee, key = await executor.commit_fresh(sessions, intend)
    if key is None:
        return payee
    try:
        result = await provider.invite_payee(InviteRequest(idempotency_key=key, email=payee.email))
    except PermanentProviderError as exc:
        outcome: tuple[Literal["sent", "accepted", "failed"], str | None, str | None] = (
            "failed",
            None,
            f"{exc.code}: {exc}",
        )
        accepted_id = None
    except ProviderError:
        raise PAYOUT_PROVIDER_UNAVAILABLE(
            "The payout provider did not answer the invitation; invite again (it is safe)."
        ) from None
    else:
        outcome = (result.status, result.invite_id, None)
        accepted_id = result.payee_id

    async def settle(reads: AsyncSession) -> tuple[ChangeSet, Payee]:
        payee = await owner.read(reads)
        changes = ChangeSet()
        if payee.invite_status != "sending" or payee.invite_key != key:
            return changes, payee  # settled by another request already
        changes.guard(payee, "invite_key", invite_status="sending")
        now = clock.now()
        status, invite_id, error = outcome
        payee.invite_status, payee.invite_id, payee.invite_error = status, invite_id, error
        if status != "failed":
            payee.invitation_sent_at = payee.invitation_sent_at or now
        if status == "accepted":
            payee.invitation_accepted_at = now
            if accepted_id and payee.provider_payee_id is None:
                payee.provider_payee_id = accepted_id
        payee.updated_at = now
        audit.record(
            changes,
            action="payee.invite",
            object_type="payee",
            object_id=payee.id,
            account_id=account_id,
            after={"invite_status": status},
        )
        return changes, payee

    return await executor.commit_fresh(sessions, settle)


async def sync_kyc(
    sessions: async_sessionmaker[AsyncSession],
    provider: PayoutProvider,
    *,
    account_id: str,
    livemode: bool,
    affiliate_id: str,
    payee_id: str,
) -> Payee:
    """Read the payee's account and KYC state from the provider and record it."""
    owner = _Owner(account_id, livemode, affiliate_id, payee_id)
    async with executor.unit(sessions) as step:
        payee = await owner.read(step.reads)
    if payee.provider_payee_id is None:
        raise PAYEE_NOT_LINKED("The payee has no provider account yet.", param="payee_id")
    try:
        info = await provider.get_payee_info(payee.provider_payee_id)
    except PermanentProviderError as exc:
        raise INVALID_PAYEE(f"The provider does not know the payee account ({exc.code}).") from None
    except ProviderError:
        raise PAYOUT_PROVIDER_UNAVAILABLE("The payout provider did not answer.") from None

    async def record(reads: AsyncSession) -> tuple[ChangeSet, Payee]:
        payee = await owner.read(reads)
        changes = ChangeSet()
        changes.guard(payee, "kyc_status", "updated_at")
        now = clock.now()
        before = payee.kyc_status
        payee.kyc_status = KYC_FROM_PROVIDER[info.kyc_status]
        payee.kyc_synced_at = payee.updated_at = now
        if payee.invite_status == "sent":
            payee.invite_status, payee.invitation_accepted_at = "accepted", now
        if before != payee.kyc_status:
            audit.record(
                changes,
                action="payee.kyc",
                object_type="payee",
                object_id=payee.id,
                account_id=account_id,
                before={"kyc_status": before},
                after={"kyc_status": payee.kyc_status},
            )
        return changes, payee

    return await executor.commit_fresh(sessions, record)
