"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL runs whenever a server answers at KASSA_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres); with CI=true an unreachable server fails the
run instead of skipping. Each run gets its own PostgreSQL database, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kassa.core import migrate
from kassa.core.db import create_engine, session_factory, transaction
from kassa.core.settings import Settings
from kassa.schema import metadata
from tests.openapi_conformance import api_transport

PG_ADMIN_URL = os.environ.get(
    "KASSA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_backend_runs: Counter[str] = Counter()


def _pg_async_url(db: str | None = None) -> str:
    url = PG_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://", 1)
    return url.rsplit("/", 1)[0] + f"/{db}" if db else url


async def _pg_reachable() -> str | None:
    import asyncpg

    try:
        conn = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_URL), 3)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


@dataclass
class Backend:
    name: str
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    def settings(self, tmp: Path, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": self.url,
            "var_dir": tmp,
            "secret_key": "test-secret-" + "x" * 40,
            "rate_limit_per_key": 0,
            "database_pool_size": 4,
            "rate_limit_per_ip": 0,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]


def _sqlite_url(tmp: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp / 'kassa-test.db'}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Backend]:
    """A migrated database on one backend, shared by the session's tests on that backend."""
    if request.param == "sqlite":
        url = _sqlite_url(tmp_path_factory.mktemp("sqlite"))
        admin = None
        db_name = ""
    else:
        problem = await _pg_reachable()
        if problem:
            if IN_CI:
                pytest.fail(f"PostgreSQL is required in CI and unreachable: {problem}")
            pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {problem}")
        import asyncpg

        db_name = f"kassa_test_{os.getpid()}_{secrets.token_hex(3)}"
        admin = await asyncpg.connect(PG_ADMIN_URL)
        await admin.execute(f'CREATE DATABASE "{db_name}"')
        url = _pg_async_url(db_name)
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    try:
        yield Backend(request.param, url, engine, session_factory(engine))
    finally:
        await engine.dispose()
        if admin is not None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            await admin.close()


@pytest.fixture
async def db(backend: Backend, request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """The backend with every table emptied before the test."""
    _backend_runs[backend.name] += 1
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    async with transaction(backend.sessions) as session:
        if backend.name == "postgresql":
            await session.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                await session.execute(text(f"DELETE FROM {table}"))
    yield backend


@pytest.fixture
async def session(db: Backend) -> AsyncIterator[AsyncSession]:
    """A session whose changes the test commits (or not) itself."""
    async with db.sessions() as s:
        yield s


@pytest.fixture
def settings(db: Backend, tmp_path: Path) -> Settings:
    return db.settings(tmp_path)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client speaking to a freshly created app over ASGI."""
    from kassa.api.app import create_app

    app = create_app(settings)
    transport = api_transport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as c,
    ):
        yield c


@pytest.fixture(autouse=True)
def _reset_clock() -> Iterator[None]:
    from kassa.core import clock

    previous = clock.install(clock.SystemClock())
    yield
    clock.install(previous)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran = ", ".join(f"{name}: {count} tests" for name, count in sorted(_backend_runs.items()))
    terminalreporter.write_line(f"database backends exercised: {ran or 'none'}", bold=True)
    if "postgresql" not in _backend_runs:
        terminalreporter.write_line(
            "PostgreSQL tests did not run in this session (server unreachable, or none selected).",
            yellow=True,
        )
