"""Shared pieces of the pay-in routes: request base classes, amounts, provider access."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kassa.core.errors import KassaError
from kassa.core.money import Money
from kassa.payins.guard import check_metadata, refuse_card_numbers
from kassa.providers.registry import ProviderRegistry


class Guarded(BaseModel):
    """Unknown fields are refused, and so is anything that looks like a card number."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_card_numbers(cls, data: Any) -> Any:
        refuse_card_numbers(data)  # raises CardNumberRefused (400), never echoes the value
        return data


class WithMetadata(Guarded):
    metadata: dict[str, str] | None = Field(
        None, description="Up to 50 keys of at most 40 characters; values up to 500 characters."
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
    registry: ProviderRegistry = request.app.state.providers
    return registry
