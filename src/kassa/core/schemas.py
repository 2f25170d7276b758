"""What every context's output models share: the ``Out`` base and money as the API shows it.

Each context keeps its output models in its own ``schemas.py``, one ``XOut`` per object, built
with ``XOut.of(row, ...)``; routes declare them as ``response_model`` and events carry their
``json_value()`` (docs/decisions/0008-response-convention.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kassa.core.money import Money


class Out(BaseModel):
    """An object as the API shows it."""

    # A field with a default (``object: Literal["payment"] = "payment"``) is still always
    # sent: the documented schema says so, and generated clients type it as present.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    def json_value(self) -> dict[str, Any]:
        """This object as JSON values: what an event carries, and what the API sends."""
        data: dict[str, Any] = self.__pydantic_serializer__.to_python(self, mode="json")
        return data

    def json_bytes(self) -> bytes:
        """The JSON body of this object, serialised without a detour through Python values."""
        return self.__pydantic_serializer__.to_json(self)


class MoneyOut(Out):
    value: str = Field(description='A decimal string in major units, e.g. "100.00".')
    currency: str = Field(description="An ISO 4217 code, e.g. USD.")

    @classmethod
    def of(cls, money: Money) -> MoneyOut:
        return cls.model_validate(money.to_json())
