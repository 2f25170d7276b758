"""Use cases on webhook endpoints: create, list, get, update, delete, rotate the secret."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import audit, clock
from kassa.core.crypto import SecretBox
from kassa.core.errors import NotFound
from kassa.core.ids import new_id
from kassa.webhooks.outbound.catalog import validate_filter
from kassa.webhooks.outbound.config import OutboundConfig
from kassa.webhooks.outbound.models import WebhookEndpoint
from kassa.webhooks.outbound.signing import generate_secret
from kassa.webhooks.outbound.targets import check_url

SECRET_PURPOSE = "kassa.webhooks.signing-secrets"


def secret_box(secret_key: bytes) -> SecretBox:
    return SecretBox(secret_key, purpose=SECRET_PURPOSE)


@dataclass(frozen=True)
class IssuedSecret:
    endpoint: WebhookEndpoint
    secret: str


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def to_dict(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The endpoint as the API and the webhook_endpoint.* events show it (never the secret)."""
    return {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "description": endpoint.description,
        "enabled_events": list(endpoint.enabled_events),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "livemode": endpoint.livemode,
        "failing_since": iso(endpoint.failing_since),
        "last_success_at": iso(endpoint.last_success_at),
        "created_at": iso(endpoint.created_at),
    }


def signing_secrets(endpoint: WebhookEndpoint, box: SecretBox, now: datetime) -> list[str]:
    """The current secret first, then previous ones still inside their grace period."""
    found = [box.decrypt(endpoint.secret_enc)]
    for old in endpoint.previous_secrets:
        if datetime.fromisoformat(old["expires_at"]) > now:
            found.append(box.decrypt(old["secret"]))
    return found


async def create_endpoint(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    url: str,
    enabled_events: list[str],
    description: str | None,
    config: OutboundConfig,
    box: SecretBox,
) -> IssuedSecret:
    url = await check_url(url, allow_private=config.allow_private, livemode=livemode)
    events = validate_filter(enabled_events)
    secret = generate_secret()
    now = clock.now()
    endpoint = WebhookEndpoint(
        id=new_id("we"),
        account_id=account_id,
        livemode=livemode,
        url=url,
        description=description,
        enabled_events=events,
        enabled=True,
        secret_enc=box.encrypt(secret),
        previous_secrets=[],
        created_at=now,
        updated_at=now,
    )
    after = to_dict(endpoint)
    audit.add_created(session, endpoint, "webhook_endpoint", account_id=account_id, after=after)
    return IssuedSecret(endpoint, secret)


def _owned(account_id: str, livemode: bool) -> Select[WebhookEndpoint]:
    return select(WebhookEndpoint).where(
        WebhookEndpoint.account_id == account_id,
        WebhookEndpoint.livemode == livemode,
        WebhookEndpoint.deleted_at.is_(None),
    )


async def get_endpoint(
    session: AsyncSession, *, account_id: str, livemode: bool, endpoint_id: str
) -> WebhookEndpoint:
    endpoint = await session.scalar(
        _owned(account_id, livemode).where(WebhookEndpoint.id == endpoint_id)
    )
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {endpoint_id!r}.", param="id")
    return endpoint


def list_query(account_id: str, livemode: bool) -> Select[WebhookEndpoint]:
    return _owned(account_id, livemode)


async def list_endpoints(
    session: AsyncSession, *, account_id: str, livemode: bool
) -> Sequence[WebhookEndpoint]:
    return (await session.scalars(_owned(account_id, livemode))).all()


async def update_endpoint(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    endpoint_id: str,
    changes: dict[str, Any],
    config: OutboundConfig,
) -> WebhookEndpoint:
    """Apply the given fields (url, enabled_events, description, enabled)."""
    endpoint = await get_endpoint(
        session, account_id=account_id, livemode=livemode, endpoint_id=endpoint_id
    )
    before = to_dict(endpoint)
    if "url" in changes:
        endpoint.url = await check_url(
            changes["url"], allow_private=config.allow_private, livemode=livemode
        )
    if "enabled_events" in changes:
        endpoint.enabled_events = validate_filter(changes["enabled_events"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        endpoint.enabled = bool(changes["enabled"])
        # Re-enabling starts a fresh health record: past failures do not count again.
        endpoint.disabled_reason = None if endpoint.enabled else "merchant"
        endpoint.failing_since = None
        endpoint.failing_notified_at = None
    endpoint.updated_at = clock.now()
    audit.record(
        session,
        action="webhook_endpoint.update",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        account_id=account_id,
        before=before,
        after=to_dict(endpoint),
    )
    return endpoint


async def delete_endpoint(
    session: AsyncSession, *, account_id: str, livemode: bool, endpoint_id: str
) -> WebhookEndpoint:
    """Deleted endpoints get nothing more; their delivery log stays for the event log."""
    endpoint = await get_endpoint(
        session, account_id=account_id, livemode=livemode, endpoint_id=endpoint_id
    )
    now = clock.now()
    endpoint.deleted_at, endpoint.enabled, endpoint.updated_at = now, False, now
    endpoint.disabled_reason = "deleted"
    audit.record(
        session,
        action="webhook_endpoint.delete",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        account_id=account_id,
        before=to_dict(endpoint),
    )
    return endpoint


async def rotate_secret(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    endpoint_id: str,
    grace: timedelta,
    box: SecretBox,
) -> IssuedSecret:
    """A new secret signs from now on; the old ones keep signing too until ``grace`` ends."""
    endpoint = await get_endpoint(
        session, account_id=account_id, livemode=livemode, endpoint_id=endpoint_id
    )
    now = clock.now()
    secret = generate_secret()
    # Every older secret stops signing at the latest when the grace ends, so a rotation with
    # no grace revokes all of them at once (a leaked secret).
    until = now + grace
    kept = [
        {
            "secret": s["secret"],
            "expires_at": min(datetime.fromisoformat(s["expires_at"]), until).isoformat(),
        }
        for s in endpoint.previous_secrets
        if min(datetime.fromisoformat(s["expires_at"]), until) > now
    ]
    if grace > timedelta(0):
        kept.insert(0, {"secret": endpoint.secret_enc, "expires_at": until.isoformat()})
    endpoint.previous_secrets = kept
    endpoint.secret_enc = box.encrypt(secret)
    endpoint.updated_at = now
    audit.record(
        session,
        action="webhook_endpoint.rotate_secret",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        account_id=account_id,
        after={"previous_secret_expires_at": (now + grace).isoformat()},
    )
    return IssuedSecret(endpoint, secret)
