"""Affiliates and their payees: /v1/affiliates, /v1/affiliates/{id}/payees."""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from kassa.api.deps import PayoutsRead, PayoutsWrite, Session, app_state
from kassa.api.idempotency import v1_router
from kassa.api.openapi import problems
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.api.routes._payins_common import AmountIn, WithMetadata
from kassa.core.money import Money
from kassa.payouts import access, affiliates, payees
from kassa.payouts.models import Affiliate, Payee
from kassa.payouts.provider import payout_provider
from kassa.payouts.schemas import AffiliateOut, AffiliateStatus, PayeeOut, Schedule

router = v1_router(tags=["affiliates"])

EMAIL = r"^[^@\s]+@[^@\s]+$"


class AffiliateUpdate(WithMetadata):
    name: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = Field(None, max_length=320, pattern=EMAIL)
    rate_bps: int | None = Field(None, ge=0, le=10_000, description="Basis points: 2500 = 25 %.")
    tier_rates: dict[str, int] | None = Field(
        None, description="A rate per subscription tier, in basis points."
    )
    recurring: bool | None = Field(
        None, description="Renewals earn commission (else only the first payment does)."
    )
    status: AffiliateStatus | None = None
    minimum_payout: AmountIn | None = None
    schedule: Schedule | None = None
    schedule_time: str | None = Field(None, description="HH:MM, 24 hours.")
    schedule_timezone: str | None = Field(None, description="An IANA time zone.")


class AffiliateCreate(WithMetadata):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=320, pattern=EMAIL)
    rate_bps: int = Field(1000, ge=0, le=10_000, description="Basis points: 2500 = 25 %.")
    tier_rates: dict[str, int] | None = Field(
        None, description="A rate per subscription tier, in basis points."
    )
    recurring: bool = Field(
        True, description="Renewals earn commission (else only the first payment does)."
    )
    minimum_payout: AmountIn | None = Field(
        None, description="Paid only from this sum on (default PAYMENT_MINIMUM_THRESHOLD USD)."
    )
    schedule: Schedule | None = Field(None, description="Overrides the install's schedule.")
    schedule_time: str | None = Field(None, description="HH:MM, 24 hours.")
    schedule_timezone: str | None = Field(None, description="An IANA time zone.")


class PayeeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal["rise", "mock"] | None = Field(
        None, description="Default and only choice: the install's payout provider."
    )
    email: str | None = Field(
        None, max_length=320, pattern=EMAIL, description="Default: the affiliate's."
    )
    provider_payee_id: str | None = Field(
        None, max_length=255, description="The payee's account at the provider (a RiseID)."
    )


@router.post(
    "/affiliates", status_code=201, response_model=AffiliateOut, summary="Create an affiliate"
)
async def create_affiliate(
    body: AffiliateCreate, principal: PayoutsWrite, session: Session, request: Request
) -> AffiliateOut:
    access.refuse_affiliate(principal, "create affiliates")
    minimum = (
        body.minimum_payout.money("minimum_payout")
        if body.minimum_payout
        else Money.parse(app_state(request).settings.payment_minimum_threshold, "USD")
    )
    affiliate = await affiliates.create_affiliate(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        code=body.code,
        name=body.name,
        email=body.email,
        minimum_payout=minimum,
        rate_bps=body.rate_bps,
        tier_rates=body.tier_rates,
        recurring=body.recurring,
        schedule=body.schedule,
        schedule_time=body.schedule_time,
        schedule_timezone=body.schedule_timezone,
        metadata=body.metadata,
    )
    return AffiliateOut.of(affiliate)


@router.get("/affiliates", response_model=ListResponse[AffiliateOut], summary="List affiliates")
async def list_affiliates(
    principal: PayoutsRead,
    session: Session,
    page: Page,
    status: AffiliateStatus | None = None,
    code: str | None = None,
) -> ListResponse[AffiliateOut]:
    viewer = access.viewer(principal)
    query = affiliates.list_query(
        account_id=viewer.account_id, livemode=viewer.livemode, status=status, code=code
    )
    if viewer.affiliate_id is not None:  # an affiliate user: its own record only
        query = query.where(Affiliate.id == viewer.affiliate_id)
    rows, has_more = await fetch_page(session, query, Affiliate.id, page)
    return ListResponse(data=[AffiliateOut.of(a) for a in rows], has_more=has_more)


@router.get(
    "/affiliates/{affiliate_id}", response_model=AffiliateOut, summary="Retrieve an affiliate"
)
async def retrieve_affiliate(
    affiliate_id: str, principal: PayoutsRead, session: Session
) -> AffiliateOut:
    access.viewer(principal).require_own(affiliate_id, "affiliate", affiliate_id)
    affiliate = await affiliates.get_affiliate(
        session, affiliate_id, account_id=principal.require_account(), livemode=principal.livemode
    )
    return AffiliateOut.of(affiliate)


@router.post(
    "/affiliates/{affiliate_id}", response_model=AffiliateOut, summary="Update an affiliate"
)
async def update_affiliate(
    affiliate_id: str,
    body: AffiliateUpdate,
    principal: PayoutsWrite,
    session: Session,
    request: Request,
) -> AffiliateOut:
    viewer = access.viewer(principal)
    viewer.require_own(affiliate_id, "affiliate", affiliate_id)
    changes: dict[str, object] = body.model_dump(exclude_unset=True, exclude={"minimum_payout"})
    if "minimum_payout" in body.model_fields_set:
        changes["minimum_payout"] = (
            body.minimum_payout.money("minimum_payout") if body.minimum_payout else None
        )
    if viewer.affiliate_id is not None:  # its payout preferences only, within bounds
        own = await affiliates.get_affiliate(
            session, affiliate_id, account_id=viewer.account_id, livemode=viewer.livemode
        )
        access.check_preferences(
            changes, own, default_minimum=app_state(request).settings.payment_minimum_threshold
        )
    affiliate = await affiliates.update_affiliate(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        affiliate_id=affiliate_id,
        changes=changes,
    )
    return AffiliateOut.of(affiliate)


@router.post(
    "/affiliates/{affiliate_id}/payees",
    status_code=201,
    response_model=PayeeOut,
    summary="Add a payee account for an affiliate",
)
async def create_payee(
    affiliate_id: str,
    body: PayeeCreate,
    principal: PayoutsWrite,
    session: Session,
    request: Request,
) -> PayeeOut:
    access.viewer(principal).require_own(affiliate_id, "affiliate", affiliate_id)
    access.refuse_affiliate(principal, "add payees")
    payee = await payees.create_payee(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        affiliate_id=affiliate_id,
        installed=app_state(request).settings.payout_provider.name,
        provider=body.provider,
        email=body.email,
        provider_payee_id=body.provider_payee_id,
    )
    return PayeeOut.of(payee)


@router.get(
    "/affiliates/{affiliate_id}/payees",
    response_model=ListResponse[PayeeOut],
    summary="List an affiliate's payees",
)
async def list_payees(
    affiliate_id: str, principal: PayoutsRead, session: Session, page: Page
) -> ListResponse[PayeeOut]:
    access.viewer(principal).require_own(affiliate_id, "affiliate", affiliate_id)
    account_id = principal.require_account()
    await affiliates.get_affiliate(
        session, affiliate_id, account_id=account_id, livemode=principal.livemode
    )
    query = payees.list_query(
        account_id=account_id, livemode=principal.livemode, affiliate_id=affiliate_id
    )
    rows, has_more = await fetch_page(session, query, Payee.id, page)
    return ListResponse(data=[PayeeOut.of(p) for p in rows], has_more=has_more)


async def _owned_payee(
    session: Session, affiliate_id: str, payee_id: str, account_id: str, livemode: bool
) -> None:
    """404 for another account's payee before anything else (the provider is not even
    looked up), then end the request's transaction: the use case runs its own, and SQLite has
    one writer while no transaction stays open across a provider call."""
    await payees.get_payee(
        session, payee_id, affiliate_id=affiliate_id, account_id=account_id, livemode=livemode
    )
    if session.in_transaction():
        await session.commit()


@router.post(
    "/affiliates/{affiliate_id}/payees/{payee_id}/invite",
    response_model=PayeeOut,
    summary="Invite the payee to open an account at the payout provider",
)
async def invite_payee(
    affiliate_id: str, payee_id: str, principal: PayoutsWrite, session: Session, request: Request
) -> PayeeOut:
    access.viewer(principal).require_own(affiliate_id, "affiliate", affiliate_id)
    access.refuse_affiliate(principal, "invite payees")
    account_id = principal.require_account()
    await _owned_payee(session, affiliate_id, payee_id, account_id, principal.livemode)
    state = app_state(request)
    payee = await payees.invite(
        state.sessions,
        payout_provider(state.settings),
        account_id=account_id,
        livemode=principal.livemode,
        affiliate_id=affiliate_id,
        payee_id=payee_id,
    )
    return PayeeOut.of(payee)


@router.post(
    "/affiliates/{affiliate_id}/payees/{payee_id}/sync",
    response_model=PayeeOut,
    responses=problems(409),
    summary="Read the payee's account and KYC state from the payout provider",
)
async def sync_payee(
    affiliate_id: str, payee_id: str, principal: PayoutsWrite, session: Session, request: Request
) -> PayeeOut:
    access.viewer(principal).require_own(affiliate_id, "affiliate", affiliate_id)
    access.refuse_affiliate(principal, "sync payees")
    account_id = principal.require_account()
    await _owned_payee(session, affiliate_id, payee_id, account_id, principal.livemode)
    state = app_state(request)
    payee = await payees.sync_kyc(
        state.sessions,
        payout_provider(state.settings),
        account_id=account_id,
        livemode=principal.livemode,
        affiliate_id=affiliate_id,
        payee_id=payee_id,
    )
    return PayeeOut.of(payee)
