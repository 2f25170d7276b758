"""The models and the migrations agree, and every migration can be undone."""

from __future__ import annotations

import asyncio

from kassa.core import migrate
from tests.conftest import Backend


async def test_models_match_migrations(db: Backend) -> None:
    await asyncio.to_thread(migrate.check, db.url)  # raises when autogenerate finds a diff


async def test_migrations_downgrade_and_upgrade_again(db: Backend, tmp_path: object) -> None:
    if db.name == "postgresql":
        # a separate database so the shared one keeps its schema
        import asyncpg

        from tests.conftest import PG_ADMIN_URL, _pg_async_url

        admin = await asyncpg.connect(PG_ADMIN_URL)
        await admin.execute('DROP DATABASE IF EXISTS "kassa_test_migrations"')
        await admin.execute('CREATE DATABASE "kassa_test_migrations"')
        url = _pg_async_url("kassa_test_migrations")
    else:
        admin, url = None, f"sqlite+aiosqlite:///{tmp_path}/m.db"
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        await asyncio.to_thread(migrate.downgrade, url, "base")
        await asyncio.to_thread(migrate.upgrade, url)
        await asyncio.to_thread(migrate.check, url)
    finally:
        if admin is not None:
            await admin.execute('DROP DATABASE IF EXISTS "kassa_test_migrations" WITH (FORCE)')
            await admin.close()
