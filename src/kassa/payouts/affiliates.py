"""Affiliates: who earns commissions, at which rates, paid on which schedule."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import audit, clock
from kassa.core.errors import InvalidRequest, NotFound
from kassa.core.ids import new_id
from kassa.core.money import Money
from kassa.payouts.errors import AFFILIATE_CODE_TAKEN
from kassa.payouts.models import Affiliate

STATUSES = ("active", "suspended", "terminated")
SCHEDULES = ("daily", "weekly", "monthly")
MAX_BPS = 10_000  # 100 %
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_UPDATABLE = (
    "name",
    "email",
    "rate_bps",
    "tier_rates",
    "recurring",
    "status",
    "schedule",
    "schedule_time",
    "schedule_timezone",
)


def check_rate(bps: int, param: str) -> int:
    if isinstance(bps, bool) or not isinstance(bps, int) or not 0 <= bps <= MAX_BPS:
        raise InvalidRequest(
            f"A rate is whole basis points from 0 to {MAX_BPS} (2500 = 25 %).", param=param
        )
    return bps


TIMEZONE_MAX_LENGTH = 64  # Affiliate.schedule_timezone


def check_schedule(schedule: str | None, at: str | None, timezone: str | None) -> None:
    if schedule is not None and schedule not in SCHEDULES:
        raise InvalidRequest(f"schedule is one of {', '.join(SCHEDULES)}.", param="schedule")
    if at is not None and not _TIME.match(at):
        raise InvalidRequest("schedule_time is HH:MM (24 hours).", param="schedule_time")
    if timezone is not None:
        try:
            # IANA names are short (the column holds 64); a longer one is no zone, and would
            # make ZoneInfo's file lookup raise OSError (name too long), read as an outage.
            if len(timezone) > TIMEZONE_MAX_LENGTH:
                raise ValueError(timezone)
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise InvalidRequest(
                f"Unknown time zone {timezone[:TIMEZONE_MAX_LENGTH]!r}; use an IANA name such as "
                "Europe/Berlin.",
                param="schedule_timezone",
            ) from None


def _check(values: dict[str, Any]) -> None:
    if "rate_bps" in values:
        check_rate(values["rate_bps"], "rate_bps")
    for tier, bps in (values.get("tier_rates") or {}).items():
        check_rate(bps, f"tier_rates.{tier}")
    if values.get("status") is not None and values["status"] not in STATUSES:
        raise InvalidRequest(f"status is one of {', '.join(STATUSES)}.", param="status")


async def by_code(
    session: AsyncSession, *, account_id: str, livemode: bool, code: str
) -> Affiliate | None:
    found: Affiliate | None = await session.scalar(
        select(Affiliate).where(
            Affiliate.account_id == account_id,
            Affiliate.livemode == livemode,
            Affiliate.code == code,
        )
    )
    return found


async def get_affiliate(
    session: AsyncSession, affiliate_id: str, *, account_id: str, livemode: bool
) -> Affiliate:
    found = await session.scalar(
        select(Affiliate).where(
            Affiliate.id == affiliate_id,
            Affiliate.account_id == account_id,
            Affiliate.livemode == livemode,
        )
    )
    if found is None:
        raise NotFound(f"No such affiliate: {affiliate_id!r}.", param="id")
    return found


async def require_affiliates(
    session: AsyncSession,
    affiliate_ids: Sequence[str],
    *,
    account_id: str,
    livemode: bool,
    param: str,
) -> None:
    """404 for the first id that is not an affiliate of this account and mode: a filter
    naming another account's affiliate is refused as its id would be anywhere else."""
    found = set(
        (
            await session.scalars(
                select(Affiliate.id).where(
                    Affiliate.id.in_(list(affiliate_ids)),
                    Affiliate.account_id == account_id,
                    Affiliate.livemode == livemode,
                )
            )
        ).all()
    )
    for affiliate_id in affiliate_ids:
        if affiliate_id not in found:
            raise NotFound(f"No such affiliate: {affiliate_id!r}.", param=param)


async def create_affiliate(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    code: str,
    name: str,
    email: str,
    minimum_payout: Money,
    rate_bps: int = 1000,
    tier_rates: dict[str, int] | None = None,
    recurring: bool = True,
    schedule: str | None = None,
    schedule_time: str | None = None,
    schedule_timezone: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Affiliate:
    _check({"rate_bps": rate_bps, "tier_rates": tier_rates})
    check_schedule(schedule, schedule_time, schedule_timezone)
    if minimum_payout.minor < 0:
        raise InvalidRequest("minimum_payout cannot be negative.", param="minimum_payout")
    if await by_code(session, account_id=account_id, livemode=livemode, code=code):
        raise AFFILIATE_CODE_TAKEN(f"An affiliate with code {code!r} exists.", param="code")
    now = clock.now()
    affiliate = Affiliate(
        id=new_id("aff"),
        account_id=account_id,
        livemode=livemode,
        code=code,
        name=name,
        email=email,
        rate_bps=rate_bps,
        tier_rates=dict(tier_rates or {}),
        recurring=recurring,
        status="active",
        minimum_payout=minimum_payout.minor,
        minimum_currency=minimum_payout.currency,
        schedule=schedule,
        schedule_time=schedule_time,
        schedule_timezone=schedule_timezone,
        metadata_=dict(metadata or {}),
        created_at=now,
        updated_at=now,
    )
    after = {"code": code, "rate_bps": rate_bps, "status": "active"}
    return audit.add_created(session, affiliate, "affiliate", account_id=account_id, after=after)


async def update_affiliate(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    affiliate_id: str,
    changes: dict[str, Any],
) -> Affiliate:
    """Apply ``changes`` (the fields of ``_UPDATABLE``, ``minimum_payout`` as Money,
    ``metadata`` replaced)."""
    _check(changes)
    affiliate = await get_affiliate(session, affiliate_id, account_id=account_id, livemode=livemode)
    check_schedule(
        changes.get("schedule", affiliate.schedule),
        changes.get("schedule_time", affiliate.schedule_time),
        changes.get("schedule_timezone", affiliate.schedule_timezone),
    )
    before = {"rate_bps": affiliate.rate_bps, "status": affiliate.status}
    for field in _UPDATABLE:
        if field in changes:
            if field in ("name", "email", "rate_bps", "recurring", "status", "tier_rates") and (
                changes[field] is None
            ):
                raise InvalidRequest(f"{field} cannot be null.", param=field)
            setattr(affiliate, field, changes[field])
    minimum = changes.get("minimum_payout")
    if isinstance(minimum, Money):
        if minimum.minor < 0:
            raise InvalidRequest("minimum_payout cannot be negative.", param="minimum_payout")
        affiliate.minimum_payout, affiliate.minimum_currency = minimum.minor, minimum.currency
    if changes.get("metadata") is not None:
        affiliate.metadata_ = dict(changes["metadata"])
    affiliate.updated_at = clock.now()
    audit.record(
        session,
        action="affiliate.update",
        object_type="affiliate",
        object_id=affiliate.id,
        account_id=account_id,
        before=before,
        after={"rate_bps": affiliate.rate_bps, "status": affiliate.status},
    )
    return affiliate


def list_query(
    *, account_id: str, livemode: bool, status: str | None = None, code: str | None = None
) -> Select[Affiliate]:
    query = select(Affiliate).where(
        Affiliate.account_id == account_id, Affiliate.livemode == livemode
    )
    if status:
        query = query.where(Affiliate.status == status)
    if code:
        query = query.where(Affiliate.code == code)
    return query
