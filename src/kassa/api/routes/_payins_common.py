"""Shared pieces of the pay-in routes: request base classes, amounts, provider access."""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kassa.accounts.provider_credentials.source import StoredCredentials
from kassa.core.errors import KassaError
from kassa.core.money import Money
from kassa.payins.guard import (
    MAX_KEY_LENGTH,
    MAX_METADATA_KEYS,
    MAX_VALUE_LENGTH,
    check_metadata,
)
from kassa.providers.registry import ProviderRegistry


class Guarded(BaseModel):
    """Unknown fields are refused. (Card numbers never get this far: the request guard
    refuses them in any part of any request, see ``kassa.api.request_guard``.)"""

    model_config = ConfigDict(extra="forbid")


class WithMetadata(Guarded):
    metadata: dict[str, str] | None = Field(
        None,
        description="Up to 50 keys of at most 40 characters; values up to 500 characters.",
        # The limits check_metadata enforces, stated in /openapi.json too.
        json_schema_extra={
            "maxProperties": MAX_METADATA_KEYS,
            "propertyNames": {"minLength": 1, "maxLength": MAX_KEY_LENGTH},
            "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
        },
    )

    @field_validator("metadata")
    @classmethod
    def _limits(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else check_metadata(value)


class AmountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(description='A decimal string in major units, e.g. "100.00".')
    currency: str = Field(description="An ISO 4217 code, e.g. USD.")

    def money(self, field: str = "amount") -> Money:
        """The amount as Money; an error names the request field (``amount.value``)."""
        try:
            return Money.parse(self.value, self.currency)
        except KassaError as exc:
            if exc.param in ("value", "currency"):
                exc.param = f"{field}.{exc.param}"
            raise


def providers(request: Request) -> ProviderRegistry:
    """The app's providers, serving each account's own credentials too (bound once per
    registry: tests may swap ``app.state.providers``)."""
    registry: ProviderRegistry = request.app.state.providers
    bound: tuple[ProviderRegistry, ProviderRegistry] | None = getattr(
        request.app.state, "bound_providers", None
    )
    if bound is None or bound[0] is not registry:
        state = request.app.state.kassa
        source = StoredCredentials.of(state.sessions, state.settings.secret_key_bytes())
        bound = (registry, registry.bind(source))
        request.app.state.bound_providers = bound
    return bound[1]
