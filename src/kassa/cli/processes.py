"""`kassa serve | worker | run | migrate | demo`: the processes, the schema, the demo data."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from kassa import __version__
from kassa.cli.bootstrap import EXIT_USAGE, fail, load_settings, with_sessions
from kassa.core.redact import mask_credentials

if TYPE_CHECKING:
    from kassa.core.settings import Settings
    from kassa.demo import DemoCredentials

app = typer.Typer(rich_markup_mode=None)  # no name: its commands sit at the top level of `kassa`


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (KASSA_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (KASSA_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="API processes (KASSA_API_WORKERS).")] = None,
) -> None:
    """Serve the HTTP API (no background jobs: run `kassa worker` too)."""
    import uvicorn

    from kassa.core.errors import KassaError
    from kassa.core.settings import reset_settings_cache

    settings = load_settings()
    try:
        settings.secret_key_bytes()
    except KassaError as exc:
        fail(exc.message, EXIT_USAGE)
    processes = workers or settings.api_workers
    # Each process reads it: without Redis, each enforces its share of the rate limits.
    os.environ["KASSA_API_WORKERS"] = str(processes)
    reset_settings_cache()  # one process: the app is created here, from these settings
    uvicorn.run(
        "kassa.api.app:create_server_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=processes,
        log_config=None,
        access_log=False,
        server_header=False,
    )


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once.")] = None,
) -> None:
    """Run background jobs and schedules until stopped (Ctrl-C finishes running jobs)."""
    import asyncio

    from kassa.runtime import run_worker

    asyncio.run(run_worker(load_settings(), concurrency=concurrency))


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "heads",
    check: Annotated[
        bool, typer.Option("--check", help="Only check models match migrations.")
    ] = False,
) -> None:
    """Bring the database schema up to date (or --check it)."""
    from kassa.core import migrate as migrations

    url = load_settings().effective_database_url
    shown = mask_credentials(url)
    try:
        if check:
            # alembic narrates the comparison at INFO: only the verdict matters here.
            logging.getLogger("alembic").setLevel(logging.WARNING)
            migrations.check(url)
            typer.echo("The database models match the migrations.")
        else:
            migrations.upgrade(url, revision)
            typer.echo(f"Database is at {revision}: {shown}")
    except Exception as exc:
        if "not up to date" in str(exc):
            fail(f"the database at {shown} is not migrated yet: run `kassa migrate`")
        fail(f"migration failed: {exc}")


@app.command()
def demo(
    chain: Annotated[
        bool,
        typer.Option(
            "--chain",
            help="Also start a local chain (anvil, needs Node.js and `npm ci`) with a test "
            "USDC, create a session, print its checkout URL and a funded test wallet, and "
            "run kassa until Ctrl-C. kassa listens on KASSA_HOST:KASSA_PORT (127.0.0.1:8000 "
            "by default); anvil on 8545, or a free port when 8545 is taken.",
        ),
    ] = False,
) -> None:
    """Create (once) and print the development demo account, admin user and test key."""
    from kassa.core import migrate as migrations

    settings = load_settings()
    if settings.is_production:
        fail("the demo account exists only in development (KASSA_ENV=development).")
    if chain:
        from kassa.chain_demo import DemoError, run_chain_demo

        try:
            sys.exit(run_chain_demo(settings))
        except DemoError as exc:
            fail(str(exc))
    migrations.upgrade(settings.effective_database_url)
    creds = _ensure_demo(settings)
    # Nothing is running: the credentials, and how to start kassa to use them.
    lines = [*_credential_lines(creds), "", "  Start kassa with `kassa run`, then try:"]
    typer.echo("\n".join([*lines, f"  {_try_it(settings, creds)}", ""]))


@app.command("run")
def run_all() -> None:
    """Start everything: migrate, then the API and a worker in one supervised group.

    In development it also creates a demo account, admin user and test API key on first
    start (kept in var/demo.json) and prints them every start.
    """
    from kassa.config_check import check_settings
    from kassa.config_probe import import_plugins
    from kassa.core import migrate as migrations
    from kassa.runtime import Supervisor, child_commands

    settings = load_settings()
    problems = [p for p in import_plugins(settings) + check_settings(settings) if p.fatal]
    if problems:
        for p in problems:
            typer.secho(f"  {p.setting}: {p.message}", fg=typer.colors.RED, err=True)
        fail("the configuration cannot work (see `kassa config check`).", EXIT_USAGE)
    settings.secret_key_bytes()  # in development this creates var/secret_key once
    migrations.upgrade(settings.effective_database_url)
    creds = None if settings.is_production else _ensure_demo(settings)
    supervisor = Supervisor(child_commands(), dict(os.environ))

    def ready() -> None:
        # "is running" and its "Try it" curl only once the API answers: it takes seconds to
        # start, and the curl would otherwise be refused.
        supervisor.wait_until_answering(f"{_local_url(settings)}/health")
        if not supervisor.stopping:
            _print_banner(settings, creds)

    sys.exit(supervisor.run(on_ready=ready))


def _local_url(settings: Settings) -> str:
    """Where this machine reaches the API it starts (a wildcard host is reached on loopback)."""
    wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - read, not bound
    host = wildcard.get(settings.host, settings.host)
    return f"http://[{host}]:{settings.port}" if ":" in host else f"http://{host}:{settings.port}"


def _ensure_demo(settings: Settings) -> DemoCredentials:
    from kassa.demo import ensure_demo

    return with_sessions(lambda sessions: ensure_demo(sessions, settings.var_dir), settings)


def _credential_lines(creds: DemoCredentials) -> list[str]:
    return [
        f"  Demo account   {creds.account_id}",
        f"  Test API key   {creds.api_key}",
        f"  Admin login    {creds.admin_email} / {creds.admin_password}",
    ]


def _try_it(settings: Settings, creds: DemoCredentials) -> str:
    return f"curl -H 'Authorization: Bearer {creds.api_key}' {settings.base_url}/v1/account"


def _print_banner(settings: Settings, creds: DemoCredentials | None) -> None:
    """What `kassa run` prints once its processes are started."""
    base = settings.base_url
    backend = settings.effective_database_url.split(":")[0]
    lines = [
        "",
        f"kassa {__version__} is running ({settings.env}, {backend})",
        f"  API            {base}/v1   (docs: {base}/docs, OpenAPI: {base}/openapi.json)",
        f"  Health         {base}/health   Metrics: {base}/metrics",
    ]
    if creds is not None:
        lines += [*_credential_lines(creds), "", f"  Try it:  {_try_it(settings, creds)}"]
    lines += ["  Stop with Ctrl-C.", ""]
    typer.echo("\n".join(lines))
