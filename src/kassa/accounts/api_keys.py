"""API keys: ``sk_test_...`` / ``sk_live_...``, stored hashed, shown once, scoped, revocable."""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ClauseElement, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kassa.accounts.errors import API_KEY_REVOKED, INVALID_API_KEY
from kassa.accounts.models import DEFAULT_SCOPES, SCOPES, ApiKey
from kassa.accounts.principal import Principal
from kassa.core import audit, clock, rawsql
from kassa.core.crypto import sha256_hex
from kassa.core.errors import InvalidRequest, NotFound
from kassa.core.ids import new_id

_ALPHABET = string.ascii_letters + string.digits
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    secret: str  # the only time the full key exists outside the caller's hands


def _generate(livemode: bool) -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(40))
    return f"sk_{'live' if livemode else 'test'}_{body}"


def _check_scopes(scopes: Sequence[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidRequest(
            f"Scopes must be a non-empty subset of {', '.join(SCOPES)}; got {list(scopes)}.",
            param="scopes",
        )
    return [s for s in SCOPES if s in scopes]


async def create_api_key(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool = False,
    name: str = "default",
    scopes: Sequence[str] = DEFAULT_SCOPES,
) -> IssuedKey:
    """A new key, trusted: the caller (the CLI, the demo, or key_management on behalf of a
    principal, after its checks) decides who may have it."""
    secret = _generate(livemode)
    key = ApiKey(
        id=new_id("key"),
        account_id=account_id,
        livemode=livemode,
        name=name,
        key_hash=sha256_hex(secret),
        redacted=f"{secret[:8]}...{secret[-4:]}",
        scopes=_check_scopes(scopes),
        created_at=clock.now(),
    )
    after = {"name": name, "livemode": livemode, "scopes": key.scopes}
    audit.add_created(session, key, "api_key", account_id=account_id, after=after)
    return IssuedKey(key, secret)


_touched: dict[str, float] = {}


def _touch_due(key_id: str, last_used_at: datetime | None) -> datetime | None:
    """When to record use now, or None: at most once a minute per key and process, so
    concurrent requests with one key never all queue on its row to write one timestamp."""
    now = clock.now()
    if now.timestamp() - _touched.get(key_id, 0.0) < _TOUCH_EVERY.total_seconds():
        return None
    _touched[key_id] = now.timestamp()
    if last_used_at is None or now - last_used_at > _TOUCH_EVERY:
        return now
    return None


def _principal(key_id: str, account_id: str, livemode: bool, scopes: Sequence[str]) -> Principal:
    return Principal(
        account_id=account_id,
        livemode=livemode,
        scopes=frozenset(scopes),
        actor=f"api_key:{key_id}",
        role="manager",
        api_key_id=key_id,
    )


def _check_format(secret: str) -> None:
    if not secret.startswith(("sk_test_", "sk_live_")):
        raise INVALID_API_KEY("That is not a kassa secret key (sk_test_... or sk_live_...).")


def _check_usable(found: bool, revoked_at: datetime | None) -> None:
    if not found:
        raise INVALID_API_KEY("Invalid API key.")
    if revoked_at is not None:
        raise API_KEY_REVOKED("This API key was revoked.")


async def authenticate_api_key(session: AsyncSession, secret: str) -> Principal:
    _check_format(secret)
    engine = rawsql.driver_engine(session.bind)
    if engine is not None:
        # Every request does this: one autocommit statement, no session transaction.
        return await _authenticate_raw(engine, sha256_hex(secret))
    key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == sha256_hex(secret)))
    _check_usable(key is not None, key.revoked_at if key else None)
    assert key is not None
    touched = _touch_due(key.id, key.last_used_at)
    if touched is not None:
        key.last_used_at = touched
    return _principal(key.id, key.account_id, key.livemode, key.scopes)


def _lookup() -> ClauseElement:
    t = ApiKey.__table__.c
    return select(t.id, t.account_id, t.livemode, t.scopes, t.last_used_at, t.revoked_at).where(
        t.key_hash == bindparam("key_hash")
    )


def _record_use() -> ClauseElement:
    t = ApiKey.__table__.c
    return (
        update(ApiKey)
        .where(t.id == bindparam("key_id"))
        .values(last_used_at=bindparam("used_at", type_=t.last_used_at.type))
    )


async def _authenticate_raw(engine: AsyncEngine, key_hash: str) -> Principal:
    lookup = rawsql.compile_once("api_keys.lookup", _lookup, engine.dialect)
    row = await rawsql.fetchrow(engine, lookup, {"key_hash": key_hash})
    _check_usable(row is not None, row["revoked_at"] if row else None)
    touched = _touch_due(row["id"], row["last_used_at"])
    if touched is not None:
        record = rawsql.compile_once("api_keys.record_use", _record_use, engine.dialect)
        await rawsql.fetchval(engine, record, {"key_id": row["id"], "used_at": touched})
    return _principal(row["id"], row["account_id"], row["livemode"], row["scopes"])


_BOTH_MODES = frozenset({False, True})


async def list_api_keys(
    session: AsyncSession, *, account_id: str, livemodes: frozenset[bool] = _BOTH_MODES
) -> Sequence[ApiKey]:
    query = (
        select(ApiKey)
        .where(ApiKey.account_id == account_id, ApiKey.livemode.in_(sorted(livemodes)))
        .order_by(ApiKey.id.desc())
    )
    return (await session.scalars(query)).all()


async def get_api_key(
    session: AsyncSession,
    *,
    account_id: str,
    key_id: str,
    livemodes: frozenset[bool] = _BOTH_MODES,
) -> ApiKey:
    """The key, if it is the account's and of a mode in ``livemodes``: any other id does not
    exist for the caller (404, never 403, so ids of other accounts or modes tell nothing)."""
    key = await session.get(ApiKey, key_id)
    if key is None or key.account_id != account_id or key.livemode not in livemodes:
        raise NotFound(f"No API key {key_id!r}.", param="id")
    return key


async def revoke_api_key(
    session: AsyncSession,
    *,
    account_id: str,
    key_id: str,
    livemodes: frozenset[bool] = _BOTH_MODES,
) -> ApiKey:
    key = await get_api_key(session, account_id=account_id, key_id=key_id, livemodes=livemodes)
    return revoke(session, key)


def revoke(session: AsyncSession, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        audit.record(
            session,
            action="api_key.revoke",
            object_type="api_key",
            object_id=key.id,
            account_id=key.account_id,
            before={"revoked": False},
            after={"revoked": True},
        )
    return key
