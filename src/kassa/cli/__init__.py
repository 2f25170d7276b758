"""The `kassa` command, assembled from one module per context (docs/decisions/0006).

    processes   serve, worker, run, migrate, demo        (top level)
    accounts    account-create (top level), apikey ..., user ...
    jobs        jobs dead | retry
    config      config check
    payins      payins reconcile | reconcile-report
    webhooks    webhooks create | list | ... | catalog
    payouts     payouts affiliates create | list | show | set-status, payees ..., run
    providers   providers credentials create | list | show | update | delete
    chain       chain hot-wallet import

Every module is light to import (typer and ``bootstrap``); the domain code a command runs is
imported inside the command, so `kassa --help` starts in a fraction of a second.
"""

from __future__ import annotations

from typing import Annotated

import typer

from kassa import __version__
from kassa.cli import (
    accounts,
    chain,
    config,
    jobs,
    payins,
    payouts,
    processes,
    providers,
    webhooks,
)

app = typer.Typer(
    help="kassa: a self-hostable payments platform. Start everything with `kassa run`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(processes.app)
app.add_typer(accounts.app)
app.add_typer(jobs.app, name="jobs")
app.add_typer(config.app, name="config")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(payins.app, name="payins")
app.add_typer(payouts.app, name="payouts")
app.add_typer(providers.app, name="providers")
app.add_typer(chain.app, name="chain")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"kassa {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """kassa: a self-hostable payments platform. Start everything with `kassa run`."""


def main() -> None:
    app()
