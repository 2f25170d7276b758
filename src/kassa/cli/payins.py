"""`kassa payins ...`: reconciliation from the command line."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from kassa.cli.bootstrap import EXIT_USAGE, composed, fail, new_app, with_sessions

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

app = new_app("Pay-ins: reconciliation report and run.")


@app.command("reconcile-report")
def reconcile_report(
    day: Annotated[str, typer.Option("--date", help="The UTC day, YYYY-MM-DD.")],
    account: Annotated[str | None, typer.Option(help="Only this account (acct_...).")] = None,
) -> None:
    """Print the day's reconciliation report (kassa vs provider) as CSV on stdout."""
    from kassa.accounts.provider_credentials.source import StoredCredentials
    from kassa.payins.report import build_report

    try:
        when = date.fromisoformat(day)
    except ValueError:
        fail("--date must be YYYY-MM-DD", EXIT_USAGE)
    composition = composed()
    settings = composition.settings

    async def go(sessions: async_sessionmaker[AsyncSession]) -> str:
        source = StoredCredentials.of(sessions, settings.secret_key_bytes())
        registry = composition.providers.bind(source)  # each account's own credentials too
        return await build_report(sessions, registry, day=when, account_id=account)

    sys.stdout.write(with_sessions(go, settings))


@app.command("reconcile")
def reconcile_now(
    older_than: Annotated[
        float | None,
        typer.Option(help="Seconds in flight (default KASSA_RECONCILE_AFTER_SECONDS)."),
    ] = None,
) -> None:
    """Settle payments and refunds stuck in flight now, instead of waiting for the job."""
    from kassa.accounts.provider_credentials.source import StoredCredentials
    from kassa.payins.reconcile import reconcile

    composition = composed()
    settings = composition.settings
    seconds = settings.reconcile_after_seconds if older_than is None else older_than

    async def go(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
        source = StoredCredentials.of(sessions, settings.secret_key_bytes())
        report = await reconcile(
            sessions,
            composition.providers.bind(source),
            older_than=timedelta(seconds=seconds),
            action_confirm_after=timedelta(seconds=settings.action_confirm_after_seconds),
            action_expires_after=timedelta(seconds=settings.action_expires_after_seconds),
        )
        return len(report.settled) + len(report.expired), len(report.unresolved)

    settled, unresolved = with_sessions(go, settings)
    typer.echo(f"settled {settled}, unresolved {unresolved}")
