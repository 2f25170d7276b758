"""`kassa payins ...`: reconciliation from the command line."""

from __future__ import annotations

import asyncio
import sys
from datetime import date, timedelta
from typing import Annotated

import typer

from kassa import composition
from kassa.core.db import create_engine, session_factory
from kassa.core.logging import configure_logging
from kassa.core.settings import get_settings
from kassa.payins.reconcile import reconcile
from kassa.payins.report import build_report
from kassa.providers.registry import build_registry

app = typer.Typer(help="Pay-ins: reconciliation report and run.", no_args_is_help=True)


@app.command("reconcile-report")
def reconcile_report(
    day: Annotated[str, typer.Option("--date", help="The UTC day, YYYY-MM-DD.")],
    account: Annotated[str | None, typer.Option(help="Only this account (acct_...).")] = None,
) -> None:
    """Print the day's reconciliation report (kassa vs provider) as CSV on stdout."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        typer.secho("error: --date must be YYYY-MM-DD", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    settings = get_settings()
    configure_logging(settings.log_level, settings.effective_log_format)

    async def go() -> str:
        engine = create_engine(settings.effective_database_url)
        try:
            return await build_report(
                session_factory(engine), build_registry(settings), day=when, account_id=account
            )
        finally:
            await engine.dispose()

    sys.stdout.write(asyncio.run(go()))


@app.command("reconcile")
def reconcile_now(
    older_than: Annotated[
        float | None,
        typer.Option(help="Seconds in flight (default KASSA_RECONCILE_AFTER_SECONDS)."),
    ] = None,
) -> None:
    """Settle payments and refunds stuck in flight now, instead of waiting for the job."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.effective_log_format)
    composition.build(settings)
    seconds = settings.reconcile_after_seconds if older_than is None else older_than

    async def go() -> tuple[int, int]:
        engine = create_engine(settings.effective_database_url)
        try:
            report = await reconcile(
                session_factory(engine),
                build_registry(settings),
                older_than=timedelta(seconds=seconds),
            )
            return len(report.settled), len(report.unresolved)
        finally:
            await engine.dispose()

    settled, unresolved = asyncio.run(go())
    typer.echo(f"settled {settled}, unresolved {unresolved}")
