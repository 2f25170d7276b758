"""Use cases on an account's provider credentials, on behalf of a principal.

The rules (the same as for API keys, see accounts/key_management.py):

- managing credentials takes the ``provider_credentials`` scope (checked by the route; a
  dashboard admin has it, ordinary keys do not: credentials decide where the money goes);
- a key sees and touches only its own account's credentials of its own mode; any other id is
  404; a dashboard admin, who has no mode, manages both modes of its account;
- the mode is told by the credentials (``CredentialsSpec.livemode``): a test key cannot store
  live credentials (403 ``credentials_livemode_mismatch``), and an update cannot change it;
- one active set per (account, kind, mode): a second is 409 ``provider_credentials_exist``.
  Replacing silently would move the account's payments to another provider account under
  the refunds and reconciliation of the ones already made; rotating keys is an update, which
  keeps the id, and so the webhook URL registered at the provider.

Secrets are write-only: stored encrypted, shown only as hints, never logged, and audit entries
record which fields changed, never their values.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts.principal import Principal
from kassa.accounts.provider_credentials.display import display_of
from kassa.accounts.provider_credentials.errors import (
    CREDENTIALS_LIVEMODE_MISMATCH,
    INVALID_PROVIDER_CREDENTIALS,
    PROVIDER_CREDENTIALS_EXIST,
    PROVIDER_CREDENTIALS_MODE_CHANGE,
    UNKNOWN_PROVIDER_KIND,
)
from kassa.accounts.provider_credentials.models import ProviderCredentials
from kassa.core import audit, clock
from kassa.core.crypto import SecretBox
from kassa.core.errors import NotFound
from kassa.core.ids import new_id
from kassa.providers.credentials import CredentialsSpec
from kassa.providers.registry import known_kinds, load_kind, mode_name

SECRET_PURPOSE = "kassa.providers.credentials"
OBJECT = "provider_credentials"
UNSET: Any = object()  # "not given" for an update's description (None clears it)


@lru_cache(maxsize=4)
def secret_box(secret_key: bytes) -> SecretBox:
    return SecretBox(secret_key, purpose=SECRET_PURPOSE)


def spec_for(kind: str) -> CredentialsSpec:
    spec = load_kind(kind) if kind.isidentifier() and kind.islower() else None
    if spec is None:
        kinds = ", ".join(k for k in known_kinds() if load_kind(k) is not None)
        raise UNKNOWN_PROVIDER_KIND(f"No provider kind {kind!r}; known: {kinds}.", param="kind")
    return spec


def _api_base_problem(url: str) -> str | None:
    """An account's ``api_base`` is where kassa sends that account's secrets: https to a
    public host only (never loopback, private, link-local or internal names), so a
    merchant cannot point kassa's provider calls at the install's own network."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host or parts.username or parts.password:
        return "api_base must be an https:// URL without credentials"
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return "api_base must name a public host"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if address.is_global else "api_base must name a public host"


def _validated(
    spec: CredentialsSpec, fields: Mapping[str, str], *, allow_private: bool = False
) -> None:
    problems = spec.problems(fields)
    api_base = fields.get("api_base")
    if api_base and not allow_private:
        found = _api_base_problem(api_base)
        if found:
            problems = [*problems, found]
    if problems:
        raise INVALID_PROVIDER_CREDENTIALS(
            f"These are not valid {spec.kind} credentials: {'; '.join(problems)}.",
            param="fields",
            details={"problems": problems},
        )


def _may_manage(principal: Principal, livemode: bool) -> None:
    if livemode not in principal.key_modes:
        own = mode_name(principal.livemode)
        raise CREDENTIALS_LIVEMODE_MISMATCH(
            f"A {own}-mode key manages {own}-mode provider credentials only; these are "
            f"{mode_name(livemode)}-mode credentials.",
            param="fields",
            details={"livemode": livemode},
        )


def encrypt_fields(box: SecretBox, fields: Mapping[str, str]) -> str:
    return box.encrypt(json.dumps(dict(sorted(fields.items()))))


def decrypt_fields(box: SecretBox, token: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(box.decrypt(token)).items()}


def _owned(principal: Principal) -> Select[ProviderCredentials]:
    return select(ProviderCredentials).where(
        ProviderCredentials.account_id == principal.require_account(),
        ProviderCredentials.livemode.in_(sorted(principal.key_modes)),
        ProviderCredentials.deleted_at.is_(None),
    )


def list_query(principal: Principal) -> Select[ProviderCredentials]:
    return _owned(principal)


async def get_credentials(
    session: AsyncSession, principal: Principal, *, credentials_id: str, for_update: bool = False
) -> ProviderCredentials:
    query = _owned(principal).where(ProviderCredentials.id == credentials_id)
    row = await session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise NotFound(f"No provider credentials {credentials_id!r}.", param="id")
    return row


async def create_credentials(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: str,
    fields: Mapping[str, str],
    description: str | None,
    box: SecretBox,
    allow_private: bool = False,
) -> ProviderCredentials:
    """``allow_private`` (KASSA_WEBHOOK_ALLOW_PRIVATE, development): an ``api_base`` on
    loopback or a private network is accepted (a provider stand-in)."""
    account_id = principal.require_account()
    spec = spec_for(kind)
    given = {name: value for name, value in fields.items() if value}
    _validated(spec, given, allow_private=allow_private)
    livemode = spec.livemode(given)
    _may_manage(principal, livemode)
    active = select(ProviderCredentials.id).where(
        ProviderCredentials.account_id == account_id,
        ProviderCredentials.kind == kind,
        ProviderCredentials.livemode == livemode,
        ProviderCredentials.deleted_at.is_(None),
    )
    existing = await session.scalar(active)
    if existing is None:
        now = clock.now()
        row = ProviderCredentials(
            id=new_id("pcr"),
            account_id=account_id,
            kind=kind,
            livemode=livemode,
            fields_enc=encrypt_fields(box, given),
            display=display_of(spec, given),
            description=description,
            created_at=now,
            updated_at=now,
            deleted_at=None,
        )
        try:
            async with session.begin_nested():  # a concurrent create loses here, not later
                after = {"kind": kind, "livemode": livemode, "fields_set": sorted(given)}
                audit.add_created(session, row, OBJECT, account_id=account_id, after=after)
            return row
        except IntegrityError:
            existing = await session.scalar(active)
    raise PROVIDER_CREDENTIALS_EXIST(
        f"The account has active {mode_name(livemode)}-mode {kind} credentials ({existing}): "
        "update them (POST /v1/provider_credentials/{id}) or delete them first.",
        param="kind",
        details={"existing": existing},
    )


async def update_credentials(
    session: AsyncSession,
    principal: Principal,
    *,
    credentials_id: str,
    fields: Mapping[str, str | None] | None,
    description: str | None = UNSET,
    box: SecretBox,
    allow_private: bool = False,
) -> ProviderCredentials:
    """Given fields replace the stored ones (null or "" removes one); the rest stay."""
    row = await get_credentials(session, principal, credentials_id=credentials_id, for_update=True)
    spec = spec_for(row.kind)
    changed: list[str] = []
    if fields:
        current = decrypt_fields(box, row.fields_enc)
        merged = dict(current)
        for name, value in fields.items():
            if value:
                merged[name] = value
            else:
                merged.pop(name, None)
        _validated(spec, merged, allow_private=allow_private)
        if spec.livemode(merged) != row.livemode:
            raise PROVIDER_CREDENTIALS_MODE_CHANGE(
                f"These are {mode_name(row.livemode)}-mode credentials; the fields given would "
                f"make them {mode_name(not row.livemode)}-mode. Create "
                f"{mode_name(not row.livemode)}-mode credentials instead.",
                param="fields",
            )
        changed = sorted(n for n in {*current, *merged} if current.get(n) != merged.get(n))
        if changed:
            row.fields_enc = encrypt_fields(box, merged)
            row.display = display_of(spec, merged)
    before = {"description": row.description}
    if description is not UNSET:
        row.description = description
    row.updated_at = clock.now()
    audit.record(
        session,
        action=f"{OBJECT}.update",
        object_type=OBJECT,
        object_id=row.id,
        account_id=row.account_id,
        before=before,
        after={"description": row.description, "fields_changed": changed},
    )
    return row


async def delete_credentials(
    session: AsyncSession, principal: Principal, *, credentials_id: str
) -> ProviderCredentials:
    """From now on they serve no call: the account falls back to the install's credentials
    of that kind and mode, if any, or its payments there are refused."""
    row = await get_credentials(session, principal, credentials_id=credentials_id, for_update=True)
    now = clock.now()
    row.deleted_at, row.updated_at = now, now
    audit.record(
        session,
        action=f"{OBJECT}.delete",
        object_type=OBJECT,
        object_id=row.id,
        account_id=row.account_id,
        before={"kind": row.kind, "livemode": row.livemode},
    )
    return row
