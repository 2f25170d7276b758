"""The decrypted credentials provider calls use: the registry's ``CredentialsSource``.

Each lookup reads the database (one indexed query per call or route; on PostgreSQL one
autocommit statement on the driver, no ORM session), so an update or a
delete in any process is seen by the next call everywhere; decrypting is done once per
version of the stored fields and kept in memory.

Lookups happen while the caller may hold a transaction of its own (a payment's intent is
described inside one). On PostgreSQL a second session reads beside it; on SQLite every
transaction takes the write lock (BEGIN IMMEDIATE, core/db.py), so the lookup reads on the
driver connection outside any transaction instead (WAL: the last committed state, no lock).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql import ClauseElement

from kassa.accounts.provider_credentials.manage import decrypt_fields, secret_box
from kassa.accounts.provider_credentials.models import ProviderCredentials
from kassa.core import rawsql
from kassa.core.crypto import SecretBox
from kassa.providers.credentials import Credentials

_OPENED_LIMIT = 4096
_opened: dict[tuple[str, str], dict[str, str]] = {}  # (id, version) -> fields


def version_of(fields_enc: str) -> str:
    """Changes whenever the fields are stored anew (every encryption has a fresh nonce)."""
    return hashlib.sha256(fields_enc.encode()).hexdigest()[:16]


def _opened_fields(
    box: SecretBox, credentials_id: str, fields_enc: str
) -> tuple[str, dict[str, str]]:
    version = version_of(fields_enc)
    fields = _opened.get((credentials_id, version))
    if fields is None:
        fields = decrypt_fields(box, fields_enc)
        if len(_opened) >= _OPENED_LIMIT:
            _opened.clear()
        _opened[(credentials_id, version)] = fields
    return version, fields


def _credentials(
    box: SecretBox, credentials_id: str, kind: str, livemode: bool, account_id: str, fields_enc: str
) -> Credentials:
    version, fields = _opened_fields(box, credentials_id, fields_enc)
    return Credentials(
        credentials_id,
        kind,
        livemode=bool(livemode),
        fields=dict(fields),
        account_id=account_id,
        version=version,
    )


def _open(box: SecretBox, row: ProviderCredentials) -> Credentials:
    return _credentials(box, row.id, row.kind, row.livemode, row.account_id, row.fields_enc)


_SQLITE_BY_ID = (
    "SELECT id, kind, livemode, account_id, fields_enc FROM provider_credentials "
    "WHERE id = ? AND deleted_at IS NULL"
)
_SQLITE_ACTIVE = (
    "SELECT id, kind, livemode, account_id, fields_enc FROM provider_credentials "
    "WHERE account_id = ? AND livemode = ? AND deleted_at IS NULL"
)


def _active_statement() -> ClauseElement:
    t = ProviderCredentials.__table__.c
    return select(t.id, t.kind, t.livemode, t.account_id, t.fields_enc).where(
        t.account_id == bindparam("account_id"),
        t.livemode == bindparam("livemode"),
        t.deleted_at.is_(None),
    )


async def active_credentials(
    session: AsyncSession, box: SecretBox, *, account_id: str, livemode: bool
) -> dict[str, Credentials]:
    rows = await session.scalars(
        select(ProviderCredentials).where(
            ProviderCredentials.account_id == account_id,
            ProviderCredentials.livemode == livemode,
            ProviderCredentials.deleted_at.is_(None),
        )
    )
    return {row.kind: _open(box, row) for row in rows}


async def credentials_by_id(
    session: AsyncSession, box: SecretBox, credentials_id: str
) -> Credentials | None:
    """Active credentials by id, whoever's (inbound webhooks at /webhooks/{kind}/{id})."""
    row = await session.get(ProviderCredentials, credentials_id)
    if row is None or row.deleted_at is not None:
        return None
    return _open(box, row)


class StoredCredentials:
    """Accounts' credentials in the database, for ``ProviderRegistry.bind``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    @classmethod
    def of(cls, sessions: async_sessionmaker[AsyncSession], secret_key: bytes) -> StoredCredentials:
        return cls(sessions, secret_box(secret_key))

    async def for_account(self, account_id: str, livemode: bool) -> dict[str, Credentials]:
        engine = self._sessions.kw.get("bind")
        if isinstance(engine, AsyncEngine) and engine.dialect.name == "sqlite":
            return await self._sqlite(engine, account_id, livemode)
        driver = rawsql.driver_engine(engine)
        if driver is not None:
            # Every payment routes through this: one autocommit statement, no ORM session.
            statement = rawsql.compile_once("credentials.active", _active_statement, driver.dialect)
            rows = await rawsql.fetch(
                driver, statement, {"account_id": account_id, "livemode": livemode}
            )
            return {row["kind"]: _credentials(self._box, *row.values()) for row in rows}
        async with self._sessions() as session:
            return await active_credentials(
                session, self._box, account_id=account_id, livemode=livemode
            )

    async def by_id(self, kind: str, credentials_id: str) -> Credentials | None:
        """Active credentials of ``kind`` by id, whoever's: the inbound webhooks'
        ``CredentialsLookup`` (``/webhooks/{kind}/{credentials id}``)."""
        engine = self._sessions.kw.get("bind")
        if isinstance(engine, AsyncEngine) and engine.dialect.name == "sqlite":
            rows = await self._sqlite_rows(engine, _SQLITE_BY_ID, (credentials_id,))
            found = _credentials(self._box, *rows[0]) if rows else None
        else:
            async with self._sessions() as session:
                found = await credentials_by_id(session, self._box, credentials_id)
        return found if found is not None and found.kind == kind else None

    @staticmethod
    async def _sqlite_rows(
        engine: AsyncEngine, statement: str, params: tuple[object, ...]
    ) -> list[Any]:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection  # aiosqlite's, in autocommit (core/db.py)
            cursor = await driver.execute(statement, params)
            return list(await cursor.fetchall())

    async def _sqlite(
        self, engine: AsyncEngine, account_id: str, livemode: bool
    ) -> dict[str, Credentials]:
        rows = await self._sqlite_rows(engine, _SQLITE_ACTIVE, (account_id, int(livemode)))
        return {row[1]: _credentials(self._box, *row) for row in rows}
