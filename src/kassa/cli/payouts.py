"""`kassa payouts ...`: affiliates and their payees (the API's /v1/affiliates, for operators),
on-demand runs and CSV exports."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kassa.cli.bootstrap import (
    JsonOption,
    composed_settings,
    fail,
    in_transaction,
    new_app,
    print_json,
    print_list,
    with_sessions,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

app = new_app("Affiliate payouts: affiliates and their payee accounts.")
affiliates_app = new_app("Affiliates: create, list, show, suspend.")
payees_app = new_app("Payee accounts of an affiliate at the payout provider.")
app.add_typer(affiliates_app, name="affiliates")
app.add_typer(payees_app, name="payees")
Account = Annotated[str, typer.Option(help="Account id (acct_...).")]
Live = Annotated[bool, typer.Option("--live", help="Live mode objects (default: test mode).")]


@affiliates_app.command("create")
def create_affiliate(
    account: Account,
    code: Annotated[str, typer.Option(help="The code referrals carry (unique per account).")],
    name: Annotated[str, typer.Option()],
    email: Annotated[str, typer.Option()],
    rate_bps: Annotated[int, typer.Option(help="Basis points: 2500 = 25 %.")] = 1000,
    minimum: Annotated[
        str | None, typer.Option(help='Minimum payout, e.g. "50.00" (default the setting).')
    ] = None,
    currency: Annotated[str, typer.Option(help="Currency of the minimum payout.")] = "USD",
    live: Live = False,
) -> None:
    """Create an affiliate and print it."""
    from kassa.core.money import Money
    from kassa.payouts import affiliates
    from kassa.payouts.schemas import AffiliateOut

    settings = composed_settings()
    threshold = Money.parse(minimum or settings.payment_minimum_threshold, currency)

    async def go(session: AsyncSession) -> dict[str, Any]:
        affiliate = await affiliates.create_affiliate(
            session,
            account_id=account,
            livemode=live,
            code=code,
            name=name,
            email=email,
            rate_bps=rate_bps,
            minimum_payout=threshold,
        )
        return AffiliateOut.of(affiliate).json_value()

    print_json(in_transaction(go, settings))


@affiliates_app.command("list")
def list_affiliates(
    account: Account,
    status: Annotated[str | None, typer.Option(help="active, suspended or terminated.")] = None,
    live: Live = False,
    as_json: JsonOption = False,
) -> None:
    """The account's affiliates, newest first."""
    from kassa.payouts import affiliates
    from kassa.payouts.models import Affiliate
    from kassa.payouts.schemas import AffiliateOut

    async def go(session: AsyncSession) -> list[dict[str, Any]]:
        query = affiliates.list_query(account_id=account, livemode=live, status=status)
        rows = (await session.scalars(query.order_by(Affiliate.id.desc()))).all()
        return [AffiliateOut.of(a).json_value() for a in rows]

    print_list(
        in_transaction(go, composed_settings()),
        as_json=as_json,
        line=lambda a: f"{a['id']}  {a['code']:<20} {a['status']:<10} {a['rate_bps']} bps",
    )


@affiliates_app.command("show")
def show_affiliate(affiliate_id: str, account: Account, live: Live = False) -> None:
    """One affiliate with its payees."""
    from kassa.payouts import affiliates, payees
    from kassa.payouts.schemas import AffiliateOut, PayeeOut

    async def go(session: AsyncSession) -> dict[str, Any]:
        affiliate = await affiliates.get_affiliate(
            session, affiliate_id, account_id=account, livemode=live
        )
        query = payees.list_query(account_id=account, livemode=live, affiliate_id=affiliate.id)
        rows = (await session.scalars(query)).all()
        return {
            **AffiliateOut.of(affiliate).json_value(),
            "payees": [PayeeOut.of(p).json_value() for p in rows],
        }

    print_json(in_transaction(go, composed_settings()))


@affiliates_app.command("set-status")
def set_status(
    affiliate_id: str,
    status: Annotated[str, typer.Argument(help="active, suspended or terminated.")],
    account: Account,
    live: Live = False,
) -> None:
    """Suspend, terminate or reactivate an affiliate."""
    from kassa.payouts import affiliates
    from kassa.payouts.schemas import AffiliateOut

    async def go(session: AsyncSession) -> dict[str, Any]:
        affiliate = await affiliates.update_affiliate(
            session,
            account_id=account,
            livemode=live,
            affiliate_id=affiliate_id,
            changes={"status": status},
        )
        return AffiliateOut.of(affiliate).json_value()

    print_json(in_transaction(go, composed_settings()))


@payees_app.command("create")
def create_payee(
    affiliate_id: str,
    account: Account,
    email: Annotated[str | None, typer.Option(help="Default: the affiliate's.")] = None,
    provider_payee_id: Annotated[
        str | None, typer.Option(help="The payee's account at the provider (a RiseID).")
    ] = None,
    live: Live = False,
) -> None:
    """Add a payee account at the install's payout provider for an affiliate."""
    from kassa.payouts import payees
    from kassa.payouts.schemas import PayeeOut

    settings = composed_settings()

    async def go(session: AsyncSession) -> dict[str, Any]:
        payee = await payees.create_payee(
            session,
            account_id=account,
            livemode=live,
            affiliate_id=affiliate_id,
            installed=settings.payout_provider.name,
            email=email,
            provider_payee_id=provider_payee_id,
        )
        return PayeeOut.of(payee).json_value()

    print_json(in_transaction(go, settings))


@payees_app.command("list")
def list_payees(
    affiliate_id: str, account: Account, live: Live = False, as_json: JsonOption = False
) -> None:
    """An affiliate's payee accounts."""
    from kassa.payouts import payees
    from kassa.payouts.schemas import PayeeOut

    async def go(session: AsyncSession) -> list[dict[str, Any]]:
        query = payees.list_query(account_id=account, livemode=live, affiliate_id=affiliate_id)
        return [PayeeOut.of(p).json_value() for p in (await session.scalars(query)).all()]

    print_list(
        in_transaction(go, composed_settings()),
        as_json=as_json,
        line=lambda p: f"{p['id']}  {p['provider']:<6} {p['kyc_status']:<10} {p['email']}",
    )


@app.command("run")
def run_now(account: Account, live: Live = False) -> None:
    """Run the account's payouts now (an operator's on-demand run): batch everything due;
    the worker executes the batches."""
    from kassa.payouts.batching import create_batches, transactions_of
    from kassa.payouts.schemas import PayoutBatchOut

    settings = composed_settings()

    async def go(session: AsyncSession) -> list[dict[str, Any]]:
        batches = await create_batches(
            session,
            account_id=account,
            livemode=live,
            batch_size=settings.payment_batch_size,
            default_minimum=settings.payment_minimum_threshold,
        )
        txs = await transactions_of(session, [b.id for b in batches])
        return [
            PayoutBatchOut.of(b, [t for t in txs if t.batch_id == b.id]).json_value()
            for b in batches
        ]

    print_json(in_transaction(go, settings))


def _utc_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 time with a zone, as the API's filters take it (a zone-less one is refused)."""
    if value is None:
        return None
    from pydantic import TypeAdapter, ValidationError

    from kassa.api.times import UtcTime

    try:
        parsed: datetime = TypeAdapter(UtcTime).validate_python(value)
    except ValidationError:
        fail(f"{option}: an ISO 8601 time with a zone, e.g. 2026-12-01T00:00:00Z")
    return parsed


@app.command("export")
def export(
    kind: Annotated[str, typer.Argument(help="commissions or payouts.")],
    account: Account,
    from_: Annotated[
        str | None, typer.Option("--from", help="Created at or after (ISO 8601 with a zone).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Created before (ISO 8601 with a zone).")] = None,
    affiliate: Annotated[str | None, typer.Option(help="Only this affiliate (aff_...).")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write the CSV here (default: standard output).")
    ] = None,
    live: Live = False,
) -> None:
    """Commissions or payouts as CSV for accounting (as GET /v1/commissions/export and
    /v1/payouts/export answer)."""
    from kassa.payouts import exports
    from kassa.payouts.access import Viewer

    if kind not in ("commissions", "payouts"):
        fail("export commissions or payouts")
    statuses = exports.COMMISSION_STATUSES if kind == "commissions" else exports.PAYOUT_STATUSES
    if status is not None and status not in statuses:
        fail(f"--status is one of {', '.join(statuses)}")
    filters = exports.Filters(_utc_time(from_, "--from"), _utc_time(to, "--to"), affiliate, status)
    viewer = Viewer(account, live, None)
    produce = exports.commissions_csv if kind == "commissions" else exports.payouts_csv

    async def go(sessions: async_sessionmaker[AsyncSession]) -> int:
        rows = -1  # the header
        with output.open("w", newline="") if output else nullcontext(sys.stdout) as out:
            async for chunk in produce(sessions, viewer, filters):
                out.write(chunk)
                rows += chunk.count("\n")
        return rows

    rows = with_sessions(go)
    if output:
        typer.echo(f"wrote {rows} {kind} to {output}", err=True)
