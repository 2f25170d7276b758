"""Accounts, API keys and sign-in tokens as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from kassa.accounts.models import Account, ApiKey
from kassa.core.schemas import Out


class AccountOut(Out):
    id: str
    object: Literal["account"] = "account"
    name: str
    email: str | None
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(
            id=account.id, name=account.name, email=account.email, created_at=account.created_at
        )


class ApiKeyOut(Out):
    id: str
    object: Literal["api_key"] = "api_key"
    name: str
    livemode: bool
    redacted_key: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
    secret: str | None = Field(
        None, description="The full key; present only in the create response."
    )

    @classmethod
    def of(cls, key: ApiKey, secret: str | None = None) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            livemode=key.livemode,
            redacted_key=key.redacted,
            scopes=list(key.scopes),
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked=key.revoked_at is not None,
            secret=secret,
        )


class TokenOut(Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")
    role: str

    @classmethod
    def of(cls, token: str, *, expires_in: int, role: str) -> TokenOut:
        return cls(access_token=token, expires_in=expires_in, role=role)
