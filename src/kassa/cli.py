"""The `kassa` command: serve, worker, run, migrate, demo, apikey, user, jobs, config."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from kassa import __version__, composition
from kassa.cli_payins import app as payins_app
from kassa.config_check import check_settings
from kassa.core.db import create_engine, session_factory, transaction
from kassa.core.errors import KassaError
from kassa.core.logging import configure_logging
from kassa.core.settings import Settings, get_settings

T = TypeVar("T")

app = typer.Typer(
    help="kassa: a self-hostable payments platform. Start everything with `kassa run`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
apikey_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
user_app = typer.Typer(help="Manage dashboard users.", no_args_is_help=True)
jobs_app = typer.Typer(help="Inspect background jobs and retry dead ones.", no_args_is_help=True)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
app.add_typer(user_app, name="user")
app.add_typer(jobs_app, name="jobs")
app.add_typer(config_app, name="config")
app.add_typer(__import__("kassa.cli_webhooks").cli_webhooks.app, name="webhooks")
app.add_typer(payins_app, name="payins")


def _show_version(value: bool) -> None:
    if value:
        import kassa

        typer.echo(f"kassa {kassa.__version__}")
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


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = get_settings()
    except Exception as exc:  # pydantic errors name the variable that is wrong
        _fail(f"invalid configuration:\n{exc}", 2)
        raise  # unreachable
    configure_logging(settings.log_level, settings.effective_log_format)
    return settings


def _with_session(fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``fn`` in one committed transaction against the configured database."""
    settings = _settings()
    composition.build(settings)

    async def go() -> T:
        engine = create_engine(settings.effective_database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                return await fn(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except KassaError as exc:
        _fail(f"{exc.message} ({exc.code})")
        raise  # unreachable
    except OSError as exc:
        _fail(f"cannot reach the database: {exc}")
        raise


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


# -- processes -------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (KASSA_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (KASSA_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="API processes (KASSA_API_WORKERS).")] = None,
) -> None:
    """Serve the HTTP API (no background jobs: run `kassa worker` too)."""
    import uvicorn

    settings = _settings()
    try:
        settings.secret_key_bytes()
    except KassaError as exc:
        _fail(exc.message, 2)
    uvicorn.run(
        "kassa.api.app:create_server_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.api_workers,
        log_config=None,
        access_log=False,
        server_header=False,
    )


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once.")] = None,
) -> None:
    """Run background jobs and schedules until stopped (Ctrl-C finishes running jobs)."""
    from kassa.runtime import run_worker

    asyncio.run(run_worker(_settings(), concurrency=concurrency))


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "heads",
    check: Annotated[
        bool, typer.Option("--check", help="Only check models match migrations.")
    ] = False,
) -> None:
    """Bring the database schema up to date (or --check it)."""
    from kassa.core import migrate as migrations

    settings = _settings()
    url = settings.effective_database_url
    try:
        if check:
            # alembic narrates the comparison at INFO: only the verdict matters here.
            logging.getLogger("alembic").setLevel(logging.WARNING)
            migrations.check(url)
            typer.echo("The database models match the migrations.")
        else:
            migrations.upgrade(url, revision)
            typer.echo(f"Database is at {revision}: {_safe_url(url)}")
    except Exception as exc:
        if "not up to date" in str(exc):
            _fail(f"the database at {_safe_url(url)} is not migrated yet: run `kassa migrate`")
        _fail(f"migration failed: {exc}")


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
    return url


@app.command()
def demo() -> None:
    """Create (once) and print the development demo account, admin user and test key."""
    from kassa.core import migrate as migrations

    settings = _settings()
    if settings.is_production:
        _fail("the demo account exists only in development (KASSA_ENV=development).")
    migrations.upgrade(settings.effective_database_url)
    creds = asyncio.run(_ensure_demo(settings))
    _print_banner(settings, creds)


async def _ensure_demo(settings: Settings) -> Any:
    from kassa.demo import ensure_demo

    engine = create_engine(settings.effective_database_url)
    try:
        return await ensure_demo(session_factory(engine), settings.var_dir)
    finally:
        await engine.dispose()


def _print_banner(settings: Settings, creds: Any) -> None:
    base = settings.base_url
    lines = [
        "",
        f"kassa {__version__} is running ({settings.env}, {settings.effective_database_url.split(':')[0]})",
        f"  API            {base}/v1   (docs: {base}/docs, OpenAPI: {base}/openapi.json)",
        f"  Health         {base}/health   Metrics: {base}/metrics",
    ]
    if creds is not None:
        lines += [
            f"  Demo account   {creds.account_id}",
            f"  Test API key   {creds.api_key}",
            f"  Admin login    {creds.admin_email} / {creds.admin_password}",
            "",
            f"  Try it:  curl -H 'Authorization: Bearer {creds.api_key}' {base}/v1/account",
        ]
    lines += ["  Stop with Ctrl-C.", ""]
    typer.echo("\n".join(lines))


@app.command()
def run() -> None:
    """Start everything: migrate, then the API and a worker in one supervised group.

    In development it also creates a demo account, admin user and test API key on first
    start (kept in var/demo.json) and prints them every start.
    """
    from kassa.core import migrate as migrations
    from kassa.runtime import Supervisor, child_commands

    settings = _settings()
    problems = [p for p in check_settings(settings) if p.fatal]
    if problems:
        for p in problems:
            typer.secho(f"  {p.setting}: {p.message}", fg=typer.colors.RED, err=True)
        _fail("the configuration cannot work (see `kassa config check`).", 2)
    settings.secret_key_bytes()  # in development this creates var/secret_key once
    migrations.upgrade(settings.effective_database_url)
    creds = None if settings.is_production else asyncio.run(_ensure_demo(settings))
    supervisor = Supervisor(child_commands(), dict(os.environ))
    sys.exit(supervisor.run(on_ready=lambda: _print_banner(settings, creds)))


# -- API keys --------------------------------------------------------------------------------
@apikey_app.command("create")
def apikey_create(
    account: Annotated[str, typer.Option(help="Account id (acct_...).")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
    scopes: Annotated[
        str, typer.Option(help="Comma-separated: read,write,refund.")
    ] = "read,write,refund",
    live: Annotated[bool, typer.Option("--live", help="A live key (sk_live_).")] = False,
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    from kassa.accounts.accounts import get_account
    from kassa.accounts.api_keys import create_api_key

    async def go(session: AsyncSession) -> str:
        await get_account(session, account)
        issued = await create_api_key(
            session,
            account_id=account,
            livemode=live,
            name=name,
            scopes=[s.strip() for s in scopes.split(",") if s.strip()],
        )
        return f"{issued.api_key.id}  {issued.secret}"

    typer.echo(_with_session(go))
    typer.secho("Store the key now: kassa keeps only its hash.", fg=typer.colors.YELLOW, err=True)


@apikey_app.command("list")
def apikey_list(account: Annotated[str, typer.Option(help="Account id (acct_...).")]) -> None:
    """List an account's API keys (never the secrets)."""
    from kassa.accounts.api_keys import list_api_keys

    async def go(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            {
                "id": k.id,
                "name": k.name,
                "key": k.redacted,
                "scopes": k.scopes,
                "livemode": k.livemode,
                "revoked": k.revoked_at is not None,
                "last_used_at": k.last_used_at,
            }
            for k in await list_api_keys(session, account_id=account)
        ]

    _print_json(_with_session(go))


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")],
    account: Annotated[str, typer.Option(help="Account id (acct_...).")],
) -> None:
    """Revoke an API key; requests with it fail from now on."""
    from kassa.accounts.api_keys import revoke_api_key

    async def go(session: AsyncSession) -> str:
        key = await revoke_api_key(session, account_id=account, key_id=key_id)
        return f"revoked {key.id} ({key.redacted})"

    typer.echo(_with_session(go))


# -- users -----------------------------------------------------------------------------------
@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    role: Annotated[str, typer.Option(help="admin, manager or affiliate.")] = "manager",
    account: Annotated[str | None, typer.Option(help="Account id; optional for admins.")] = None,
    password: Annotated[
        str | None,
        typer.Option(
            envvar="KASSA_NEW_USER_PASSWORD", help="Password (prompted for when not given)."
        ),
    ] = None,
) -> None:
    """Create a dashboard user."""
    from kassa.accounts.users import create_user

    secret = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def go(session: AsyncSession) -> str:
        user = await create_user(
            session, email=email, password=secret, role=role, account_id=account
        )
        return f"created {user.role} {user.email} ({user.id})"

    typer.echo(_with_session(go))


@app.command("account-create")
def account_create(
    name: Annotated[str, typer.Option(help="The merchant's name.")],
    email: Annotated[str | None, typer.Option(help="Contact email.")] = None,
) -> None:
    """Create a merchant account and print its id."""
    from kassa.accounts.accounts import create_account

    async def go(session: AsyncSession) -> str:
        return (await create_account(session, name=name, email=email)).id

    typer.echo(_with_session(go))


# -- jobs ------------------------------------------------------------------------------------
@jobs_app.command("dead")
def jobs_dead(limit: Annotated[int, typer.Option(help="How many.")] = 50) -> None:
    """List jobs that exhausted their retries."""
    from kassa.jobs.admin import list_jobs

    async def go(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            {
                "id": j.id,
                "name": j.name,
                "attempts": j.attempts,
                "error": j.last_error,
                "finished_at": j.finished_at,
                "args": j.args,
            }
            for j in await list_jobs(session, status="dead", limit=limit)
        ]

    rows = _with_session(go)
    _print_json(rows) if rows else typer.echo("No dead jobs.")


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[str | None, typer.Argument(help="A dead job's id (job_...).")] = None,
    all_dead: Annotated[bool, typer.Option("--all", help="Retry every dead job.")] = False,
    name: Annotated[str | None, typer.Option(help="With --all: only jobs of this name.")] = None,
) -> None:
    """Queue dead jobs again with fresh attempts."""
    from kassa.jobs.admin import retry_all_dead, retry_dead

    if bool(job_id) == all_dead:
        _fail("give a job id or --all.", 2)

    async def go(session: AsyncSession) -> str:
        if job_id:
            return f"queued {(await retry_dead(session, job_id)).id} again"
        return f"queued {await retry_all_dead(session, name=name)} dead job(s) again"

    typer.echo(_with_session(go))


# -- config ----------------------------------------------------------------------------------
@config_app.command("check")
def config_check() -> None:
    """Print what is set, what is missing, and exit 1 when the configuration cannot work."""
    settings = _settings()
    for name, value in settings_summary(settings):
        typer.echo(f"  {name:<28} {value}")
    problems = check_settings(settings)
    for p in problems:
        colour = typer.colors.RED if p.fatal else typer.colors.YELLOW
        typer.secho(f"{'error' if p.fatal else 'warning'}: {p.setting}: {p.message}", fg=colour)
    if any(p.fatal for p in problems):
        raise typer.Exit(1)
    typer.secho("The configuration can work.", fg=typer.colors.GREEN)


def settings_summary(settings: Settings) -> list[tuple[str, str]]:
    from kassa.config_check import summary

    return summary(settings)


def main() -> None:
    app()
