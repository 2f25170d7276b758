"""Provider credentials as the API shows them: never a secret, only its hint."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from kassa.accounts.provider_credentials.models import ProviderCredentials
from kassa.core.schemas import Out


def webhook_url(base_url: str, row: ProviderCredentials) -> str:
    """Where the provider posts these credentials' events (registered at the provider)."""
    return f"{base_url.rstrip('/')}/webhooks/{row.kind}/{row.id}"


class ProviderCredentialsOut(Out):
    id: str
    object: Literal["provider_credentials"] = "provider_credentials"
    kind: str = Field(description="The provider kind: stripe, paypal, braintree or mock.")
    livemode: bool = Field(
        description="Told by the credentials themselves (sk_live_..., environment=live): they "
        "serve only keys of this mode."
    )
    fields: dict[str, str] = Field(description="The non-secret fields, in clear.")
    secret_hints: dict[str, str] = Field(
        description="Each secret field as a hint (`sk_test_…4242`); secrets are write-only and "
        "never returned, not even when created."
    )
    webhook_url: str = Field(
        description="The URL to register at the provider for these credentials' webhooks."
    )
    description: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ProviderCredentials, *, base_url: str) -> ProviderCredentialsOut:
        return cls(
            id=row.id,
            kind=row.kind,
            livemode=row.livemode,
            fields=dict(row.display.get("fields", {})),
            secret_hints=dict(row.display.get("secrets", {})),
            webhook_url=webhook_url(base_url, row),
            description=row.description,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class DeletedProviderCredentialsOut(Out):
    id: str
    object: Literal["provider_credentials"] = "provider_credentials"
    deleted: Literal[True] = True

    @classmethod
    def of(cls, row: ProviderCredentials) -> DeletedProviderCredentialsOut:
        return cls(id=row.id)
