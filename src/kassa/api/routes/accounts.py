"""The caller's account, API keys and user sign-in."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kassa.accounts import api_keys, users
from kassa.accounts.accounts import get_account
from kassa.accounts.models import ApiKey
from kassa.api.deps import ReadAccess, Session, State, WriteAccess
from kassa.api.idempotency import v1_router
from kassa.api.pagination import ListResponse

router = v1_router(tags=["accounts"])  # POSTs honour Idempotency-Key
Scope = Literal["read", "write", "refund"]
ALL_SCOPES: tuple[Scope, ...] = ("read", "write", "refund")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountOut(BaseModel):
    id: str
    object: Literal["account"] = "account"
    name: str
    email: str | None
    created_at: datetime


class ApiKeyOut(BaseModel):
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


class ApiKeyCreate(Strict):
    name: str = Field("default", min_length=1, max_length=200)
    scopes: list[Scope] = Field(default_factory=lambda: list(ALL_SCOPES), min_length=1)


class TokenRequest(Strict):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1000)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: str


@router.get("/account", response_model=AccountOut, summary="The account of these credentials")
async def read_account(principal: ReadAccess, session: Session) -> AccountOut:
    account = await get_account(session, principal.require_account())
    return AccountOut(
        id=account.id, name=account.name, email=account.email, created_at=account.created_at
    )


@router.get("/api_keys", response_model=ListResponse[ApiKeyOut], summary="List API keys")
async def list_keys(principal: ReadAccess, session: Session) -> ListResponse[ApiKeyOut]:
    keys = await api_keys.list_api_keys(session, account_id=principal.require_account())
    return ListResponse(data=[ApiKeyOut.of(k) for k in keys], has_more=False)


@router.post(
    "/api_keys",
    response_model=ApiKeyOut,
    status_code=201,
    summary="Create an API key (the secret is shown once)",
)
async def create_key(body: ApiKeyCreate, principal: WriteAccess, session: Session) -> ApiKeyOut:
    issued = await api_keys.create_api_key(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        name=body.name,
        scopes=body.scopes,
    )
    return ApiKeyOut.of(issued.api_key, issued.secret)


@router.post("/api_keys/{key_id}/revoke", response_model=ApiKeyOut, summary="Revoke an API key")
async def revoke_key(key_id: str, principal: WriteAccess, session: Session) -> ApiKeyOut:
    key = await api_keys.revoke_api_key(
        session, account_id=principal.require_account(), key_id=key_id
    )
    return ApiKeyOut.of(key)


@router.post(
    "/auth/token",
    response_model=TokenOut,
    summary="Exchange a dashboard user's email and password for a short-lived token",
)
async def token(body: TokenRequest, session: Session, state: State) -> TokenOut:
    user = await users.authenticate_password(session, email=body.email, password=body.password)
    ttl = state.settings.user_token_ttl_seconds
    return TokenOut(
        access_token=users.issue_token(user, key=state.token_key, ttl=timedelta(seconds=ttl)),
        expires_in=ttl,
        role=user.role,
    )
