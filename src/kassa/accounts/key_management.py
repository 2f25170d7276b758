"""API keys managed through the API, on behalf of a principal: what it may see, mint and revoke.

The rules, so that managing keys can never be a way to hold more than one holds:

- it takes the ``api_keys`` scope (checked by the route; dashboard admins have it, managers and
  affiliates do not);
- a key sees and touches only its own account's keys of its own mode; any other id is 404;
  a dashboard admin, who has no mode, manages both modes of its account;
- a new key gets no scope its creator lacks, and a key never creates a key of the other mode;
- a key revokes only keys whose scopes it holds itself (a narrow key cannot switch off the
  integration's main key).

Every refusal is a ``PermissionDenied`` with a stable code; the API audits it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts import api_keys
from kassa.accounts.api_keys import IssuedKey
from kassa.accounts.errors import LIVEMODE_MISMATCH, SCOPE_EXCEEDS_OWN
from kassa.accounts.models import ApiKey
from kassa.accounts.principal import Principal


def _not_held(principal: Principal, scopes: Sequence[str]) -> list[str]:
    return [s for s in scopes if s not in principal.scopes]


async def list_keys(session: AsyncSession, principal: Principal) -> Sequence[ApiKey]:
    return await api_keys.list_api_keys(
        session, account_id=principal.require_account(), livemodes=principal.key_modes
    )


async def create_key(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    scopes: Sequence[str],
    livemode: bool | None,
) -> IssuedKey:
    account_id = principal.require_account()
    mode = principal.livemode if livemode is None else livemode
    if mode not in principal.key_modes:
        own = "live" if principal.livemode else "test"
        raise LIVEMODE_MISMATCH(
            f"A {own}-mode key creates {own}-mode keys only.",
            param="livemode",
            details={"livemode": mode},
        )
    extra = _not_held(principal, scopes)
    if extra:
        raise SCOPE_EXCEEDS_OWN(
            f"A key cannot grant scopes it lacks itself: {', '.join(extra)}.",
            param="scopes",
            details={"scopes_not_held": extra},
        )
    return await api_keys.create_api_key(
        session, account_id=account_id, livemode=mode, name=name, scopes=scopes
    )


async def revoke_key(session: AsyncSession, principal: Principal, *, key_id: str) -> ApiKey:
    key = await api_keys.get_api_key(
        session,
        account_id=principal.require_account(),
        key_id=key_id,
        livemodes=principal.key_modes,
    )
    extra = _not_held(principal, key.scopes)
    if extra:
        raise SCOPE_EXCEEDS_OWN(
            f"Revoking {key.id} needs every scope it has; these credentials lack "
            f"{', '.join(extra)}.",
            details={"key": key.id, "scopes_not_held": extra},
        )
    return api_keys.revoke(session, key)
