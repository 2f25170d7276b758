"""API keys: ``sk_test_...`` / ``sk_live_...``, stored hashed, shown once, scoped, revocable."""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts.models import SCOPES, ApiKey
from kassa.accounts.principal import Principal
from kassa.core import audit, clock
from kassa.core.crypto import sha256_hex
from kassa.core.errors import AuthenticationFailed, InvalidRequest, NotFound
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
    scopes: Sequence[str] = SCOPES,
) -> IssuedKey:
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
    session.add(key)
    audit.record(
        session,
        action="api_key.create",
        object_type="api_key",
        object_id=key.id,
        account_id=account_id,
        after={"name": name, "livemode": livemode, "scopes": key.scopes},
    )
    return IssuedKey(key, secret)


_touched: dict[str, float] = {}


def _touch(key: ApiKey) -> None:
    """Record use at most once a minute per key and process: concurrent requests with one key
    must not all queue on the same row lock to write the same timestamp."""
    now = clock.now()
    last_local = _touched.get(key.id, 0.0)
    if now.timestamp() - last_local < _TOUCH_EVERY.total_seconds():
        return
    _touched[key.id] = now.timestamp()
    if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
        key.last_used_at = now


async def authenticate_api_key(session: AsyncSession, secret: str) -> Principal:
    if not secret.startswith(("sk_test_", "sk_live_")):
        raise AuthenticationFailed(
            "That is not a kassa secret key (sk_test_... or sk_live_...).", code="invalid_api_key"
        )
    key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == sha256_hex(secret)))
    if key is None:
        raise AuthenticationFailed("Invalid API key.", code="invalid_api_key")
    if key.revoked_at is not None:
        raise AuthenticationFailed("This API key was revoked.", code="api_key_revoked")
    _touch(key)
    return Principal(
        account_id=key.account_id,
        livemode=key.livemode,
        scopes=frozenset(key.scopes),
        actor=f"api_key:{key.id}",
        role="manager",
        api_key_id=key.id,
    )


async def list_api_keys(session: AsyncSession, *, account_id: str) -> Sequence[ApiKey]:
    query = select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.id.desc())
    return (await session.scalars(query)).all()


async def get_api_key(session: AsyncSession, *, account_id: str, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None or key.account_id != account_id:
        raise NotFound(f"No API key {key_id!r}.", param="id")
    return key


async def revoke_api_key(session: AsyncSession, *, account_id: str, key_id: str) -> ApiKey:
    key = await get_api_key(session, account_id=account_id, key_id=key_id)
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        audit.record(
            session,
            action="api_key.revoke",
            object_type="api_key",
            object_id=key.id,
            account_id=account_id,
            before={"revoked": False},
            after={"revoked": True},
        )
    return key
