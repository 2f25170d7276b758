"""The caller's account, API keys and user sign-in."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from kassa.accounts import key_management, users
from kassa.accounts.accounts import get_account
from kassa.accounts.login_throttle import Policy
from kassa.accounts.models import DEFAULT_SCOPES
from kassa.accounts.schemas import AccountOut, ApiKeyOut, TokenOut
from kassa.accounts.sign_in import sign_in
from kassa.api.deps import KeyManagement, ReadAccess, Session, State
from kassa.api.idempotency import v1_router
from kassa.api.openapi import problems
from kassa.api.pagination import ListResponse
from kassa.core import context
from kassa.core.db import transaction
from kassa.payouts import access

router = v1_router(tags=["accounts"])  # POSTs honour Idempotency-Key
Scope = Literal["read", "write", "refund", "api_keys", "provider_credentials"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiKeyCreate(Strict):
    name: str = Field("default", min_length=1, max_length=200)
    scopes: list[Scope] = Field(
        default_factory=lambda: [cast(Scope, s) for s in DEFAULT_SCOPES],
        min_length=1,
        description="At most the scopes of the credentials creating it. `api_keys` (managing "
        "keys) and `provider_credentials` only when asked for.",
    )
    livemode: StrictBool | None = Field(
        None,
        description="Default: the mode of the credentials creating it. A key creates keys of "
        "its own mode only; a dashboard admin chooses.",
    )


class TokenRequest(Strict):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1000)


@router.get("/account", response_model=AccountOut, summary="The account of these credentials")
async def retrieve_account(principal: ReadAccess, session: Session) -> AccountOut:
    return AccountOut.of(await get_account(session, principal.require_account()))


@router.get(
    "/api_keys",
    response_model=ListResponse[ApiKeyOut],
    summary="List API keys (a key sees its own mode's keys)",
)
async def list_api_keys(principal: KeyManagement, session: Session) -> ListResponse[ApiKeyOut]:
    keys = await key_management.list_keys(session, principal)
    return ListResponse(data=[ApiKeyOut.of(k) for k in keys], has_more=False)


@router.post(
    "/api_keys",
    response_model=ApiKeyOut,
    status_code=201,
    summary="Create an API key (the secret is shown once)",
)
async def create_api_key(
    body: ApiKeyCreate, principal: KeyManagement, session: Session
) -> ApiKeyOut:
    issued = await key_management.create_key(
        session, principal, name=body.name, scopes=body.scopes, livemode=body.livemode
    )
    return ApiKeyOut.of(issued.api_key, issued.secret)


@router.post(
    "/api_keys/{key_id}/revoke",
    response_model=ApiKeyOut,
    responses=problems(404),
    summary="Revoke an API key",
)
async def revoke_api_key(key_id: str, principal: KeyManagement, session: Session) -> ApiKeyOut:
    key = await key_management.revoke_key(session, principal, key_id=key_id)
    return ApiKeyOut.of(key)


@router.post(
    "/auth/token",
    response_model=TokenOut,
    responses=problems(401, 403, 429),
    summary="Exchange a dashboard user's email and password for a short-lived token",
)
async def create_token(body: TokenRequest, state: State) -> TokenOut:
    user = await sign_in(
        state.sessions,
        Policy.from_settings(state.settings),
        email=body.email,
        password=body.password,
        ip=context.current().ip,
    )
    ttl = state.settings.user_token_ttl_seconds
    livemode = False
    if user.role == "affiliate":  # its token acts on its affiliate's mode
        async with transaction(state.sessions) as session:
            livemode = (await access.linked_affiliate(session, user)).livemode
    return TokenOut.of(
        users.issue_token(user, key=state.token_key, ttl=timedelta(seconds=ttl), livemode=livemode),
        expires_in=ttl,
        role=user.role,
    )
