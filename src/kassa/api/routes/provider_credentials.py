"""An account's own provider credentials: write-only secrets, one set per kind and mode."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kassa.accounts.provider_credentials import manage
from kassa.accounts.provider_credentials.models import ProviderCredentials
from kassa.accounts.provider_credentials.schemas import (
    DeletedProviderCredentialsOut,
    ProviderCredentialsOut,
)
from kassa.api.deps import CredentialsManagement, Session, State
from kassa.api.openapi import problems
from kassa.api.pagination import ListResponse, Page, fetch_page

router = APIRouter(prefix="/v1/provider_credentials", tags=["provider credentials"])

FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
FieldValue = Annotated[str, StringConstraints(max_length=4096)]
_FIELDS = (
    "The provider's own fields, e.g. stripe: `secret_key`, `webhook_secret`, `api_base`; "
    "paypal: `client_id`, `client_secret`, `webhook_id`, `environment`, `api_base`; "
    "braintree: `merchant_id`, `public_key`, `private_key`, `environment`. Secrets are "
    "stored encrypted and never returned (only a hint)."
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CredentialsCreate(Strict):
    kind: str = Field(
        max_length=32, description="The provider kind: stripe, paypal, braintree, mock."
    )
    fields: dict[FieldName, FieldValue] = Field(
        default_factory=dict, max_length=20, description=_FIELDS
    )
    description: str | None = Field(None, max_length=500)


class CredentialsUpdate(Strict):
    fields: dict[FieldName, FieldValue | None] | None = Field(
        None,
        max_length=20,
        description='Fields to replace; the others stay. `null` or `""` removes an optional '
        "one. The mode cannot change.",
    )
    description: str | None = Field(None, max_length=500)


def _out(row: ProviderCredentials, state: State) -> ProviderCredentialsOut:
    return ProviderCredentialsOut.of(row, base_url=state.settings.base_url)


@router.post(
    "",
    response_model=ProviderCredentialsOut,
    status_code=201,
    responses=problems(400, 409),
    summary="Store the account's credentials of a provider (secrets are never returned)",
)
async def create_provider_credentials(
    body: CredentialsCreate, principal: CredentialsManagement, session: Session, state: State
) -> ProviderCredentialsOut:
    row = await manage.create_credentials(
        session,
        principal,
        kind=body.kind,
        fields=body.fields,
        description=body.description,
        box=manage.secret_box(state.settings.secret_key_bytes()),
        allow_private=state.settings.webhook_allow_private,
    )
    return _out(row, state)


@router.get(
    "",
    response_model=ListResponse[ProviderCredentialsOut],
    summary="List the account's provider credentials (a key sees its own mode's)",
)
async def list_provider_credentials(
    principal: CredentialsManagement, session: Session, state: State, page: Page
) -> ListResponse[ProviderCredentialsOut]:
    rows, more = await fetch_page(
        session, manage.list_query(principal), ProviderCredentials.id, page
    )
    return ListResponse(data=[_out(r, state) for r in rows], has_more=more)


@router.get(
    "/{credentials_id}",
    response_model=ProviderCredentialsOut,
    responses=problems(404),
    summary="Retrieve provider credentials (secrets as hints only)",
)
async def retrieve_provider_credentials(
    credentials_id: str, principal: CredentialsManagement, session: Session, state: State
) -> ProviderCredentialsOut:
    row = await manage.get_credentials(session, principal, credentials_id=credentials_id)
    return _out(row, state)


@router.post(
    "/{credentials_id}",
    response_model=ProviderCredentialsOut,
    responses=problems(400, 404),
    summary="Update provider credentials (rotate a secret, change fields or description)",
)
async def update_provider_credentials(
    credentials_id: str,
    body: CredentialsUpdate,
    principal: CredentialsManagement,
    session: Session,
    state: State,
) -> ProviderCredentialsOut:
    given = body.model_dump(exclude_unset=True)
    row = await manage.update_credentials(
        session,
        principal,
        credentials_id=credentials_id,
        fields=body.fields,
        description=given.get("description", manage.UNSET),
        box=manage.secret_box(state.settings.secret_key_bytes()),
        allow_private=state.settings.webhook_allow_private,
    )
    return _out(row, state)


@router.delete(
    "/{credentials_id}",
    response_model=DeletedProviderCredentialsOut,
    responses=problems(404),
    summary="Delete provider credentials (the account falls back to the install's, if any)",
)
async def delete_provider_credentials(
    credentials_id: str, principal: CredentialsManagement, session: Session
) -> DeletedProviderCredentialsOut:
    row = await manage.delete_credentials(session, principal, credentials_id=credentials_id)
    return DeletedProviderCredentialsOut.of(row)
