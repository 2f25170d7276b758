"""What every `kassa` command shares: settings, logging, the event loop, exit codes, output.

A command module imports only typer and this module at import time, and the domain code it
runs inside its command functions. Building the command tree (`kassa --help`, any
`kassa ... --help`) therefore loads no database driver, web framework or HTTP client
(tests/test_cli_startup.py holds that).

Exit codes, the same for every command:

    0  EXIT_OK      done
    1  EXIT_FAILED  the command failed: a domain refusal, an unreachable database, a
                    configuration that cannot work
    2  EXIT_USAGE   it was called wrongly: bad arguments or invalid settings

Errors are one line on stderr (``error: ...``), never a traceback, with every URL's password
masked. Commands that list things take ``--json`` and then print a JSON array, also when
there is nothing to list; times are written as the API writes them (ISO 8601, UTC, ``Z``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from kassa.core.redact import redact

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from kassa.composition import Composition
    from kassa.core.settings import Settings

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print a JSON array (also when empty), for scripts.")
]


def new_app(help: str) -> typer.Typer:
    """A command group as every context declares its own."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.secho(f"error: {redact(message)}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    """The settings, with logging configured from them; invalid ones end the command (2)."""
    from kassa.core.logging import configure_logging
    from kassa.core.settings import get_settings

    try:
        settings = get_settings()
    except Exception as exc:  # pydantic's errors name the variable that is wrong
        fail(f"invalid configuration:\n{exc}", EXIT_USAGE)
    configure_logging(settings.log_level, settings.effective_log_format)
    return settings


def composed() -> Composition:
    """The process's composition (settings, providers), every context's jobs and events
    registered."""
    from kassa import composition

    return composition.build(load_settings())


def composed_settings() -> Settings:
    return composed().settings


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main`` on a fresh event loop. A domain error, or a database that cannot be
    reached or refuses, ends the command with one line and exit 1."""
    from sqlalchemy.exc import DBAPIError

    from kassa.core.errors import KassaError

    try:
        return asyncio.run(main())
    except KassaError as exc:
        fail(f"{exc.message} ({exc.code})")
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")
    except DBAPIError as exc:
        from kassa.config_probe import reason

        fail(f"the database refused: {reason(exc)}")


def with_sessions(
    fn: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]],
    settings: Settings | None = None,
) -> T:
    """Run ``fn`` with a session factory on the configured database, disposed afterwards."""
    from kassa.core.db import create_engine, session_factory

    settings = settings or composed_settings()
    url = settings.effective_database_url

    async def main() -> T:
        engine = create_engine(url)
        try:
            return await fn(session_factory(engine))
        finally:
            await engine.dispose()

    return run(main)


def in_transaction(
    fn: Callable[[AsyncSession], Awaitable[T]], settings: Settings | None = None
) -> T:
    """Run ``fn`` in one transaction, committed when it returns."""
    from kassa.core.db import transaction

    async def once(sessions: async_sessionmaker[AsyncSession]) -> T:
        async with transaction(sessions) as session:
            return await fn(session)

    return with_sessions(once, settings)


def _json_default(value: object) -> str:
    # Times as the API writes them (...T...Z), not str()'s "... +00:00".
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=_json_default))


def print_list(
    rows: list[dict[str, Any]],
    *,
    as_json: bool,
    empty: str | None = None,
    line: Callable[[dict[str, Any]], str] | None = None,
) -> None:
    """A listing: with ``--json`` a JSON array; otherwise ``empty`` when there is nothing,
    one ``line`` per row where the command has a text form, else the same JSON."""
    if as_json:
        print_json(rows)
    elif not rows and empty is not None:
        typer.echo(empty)
    elif line is not None:
        for row in rows:
            typer.echo(line(row))
    else:
        print_json(rows)
