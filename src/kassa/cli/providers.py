"""`kassa providers credentials ...`: an account's own provider credentials, on the server.

Secrets never need to be on the command line: ``--secret NAME`` asks for NAME without echo
on a terminal, or reads it as one line of standard input otherwise (one line per ``--secret``,
in order), so ``printf '%s\\n' "$KEY" | kassa providers credentials create ... --secret
secret_key`` works in scripts. ``--field name=value`` is for the non-secret fields. Output shows
secrets only as hints, as the API does. The CLI acts as the operator: any account, both modes.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kassa.cli.bootstrap import (
    EXIT_USAGE,
    JsonOption,
    composed_settings,
    fail,
    in_transaction,
    new_app,
    print_json,
    print_list,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from kassa.accounts.principal import Principal
    from kassa.accounts.provider_credentials.models import ProviderCredentials

app = new_app("Payment providers: accounts' own credentials.")
credentials_app = new_app("An account's provider credentials (secrets write-only).")
app.add_typer(credentials_app, name="credentials")

Account = Annotated[str, typer.Option(help="Account id (acct_...).")]
CredentialsId = Annotated[str, typer.Argument(help="The credentials' id (pcr_...).")]
Fields = Annotated[
    list[str] | None,
    typer.Option(
        "--field", metavar="<name=value>", help="A non-secret field as name=value (repeatable)."
    ),
]
Secrets = Annotated[
    list[str] | None,
    typer.Option(
        "--secret",
        metavar="<name>",
        help="A secret field's name: asked for without echo, or read as a line of stdin "
        "(repeatable).",
    ),
]
Description = Annotated[str | None, typer.Option(help="A label for these credentials.")]


def _operator(account: str) -> Principal:
    from kassa.accounts.models import SCOPES
    from kassa.accounts.principal import Principal

    return Principal(account, False, frozenset(SCOPES), actor="cli", role="admin")


def _read_secret(name: str) -> str:
    if sys.stdin.isatty():
        return str(typer.prompt(name, hide_input=True))
    line = sys.stdin.readline()
    if not line:
        fail(f"standard input ended before the value of {name}", EXIT_USAGE)
    return line.rstrip("\r\n")


def _fields(given: list[str] | None, secrets: list[str] | None, kind: str | None) -> dict[str, str]:
    from kassa.accounts.provider_credentials.manage import spec_for
    from kassa.core.errors import KassaError

    try:
        secret_names = set(spec_for(kind).secret) if kind else set()
    except KassaError as exc:
        fail(f"{exc.message} ({exc.code})", EXIT_USAGE)
    fields: dict[str, str] = {}
    for item in given or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"--field takes name=value, got {name!r}", EXIT_USAGE)
        if name in secret_names:
            typer.secho(
                f"warning: {name} is a secret: on the command line it is seen by ps and kept "
                f"in shell history; use --secret {name}",
                fg=typer.colors.YELLOW,
                err=True,
            )
        fields[name] = value
    for name in secrets or []:
        fields[name] = _read_secret(name)
    return fields


def _shown(row: ProviderCredentials) -> dict[str, Any]:
    from kassa.accounts.provider_credentials.schemas import ProviderCredentialsOut

    out = ProviderCredentialsOut.of(row, base_url=composed_settings().base_url)
    return out.json_value()


def _box() -> Any:
    from kassa.accounts.provider_credentials.manage import secret_box

    return secret_box(composed_settings().secret_key_bytes())


@credentials_app.command("create")
def create(
    account: Account,
    kind: Annotated[str, typer.Option(help="stripe, paypal, braintree or mock.")],
    field: Fields = None,
    secret: Secrets = None,
    description: Description = None,
) -> None:
    """Store an account's credentials of a provider; the mode is told by the credentials."""
    from kassa.accounts.accounts import get_account
    from kassa.accounts.provider_credentials import manage

    fields = _fields(field, secret, kind)
    box = _box()

    async def go(session: AsyncSession) -> dict[str, Any]:
        await get_account(session, account)
        row = await manage.create_credentials(
            session,
            _operator(account),
            kind=kind,
            fields=fields,
            description=description,
            box=box,
            allow_private=composed_settings().webhook_allow_private,
        )
        return _shown(row)

    print_json(in_transaction(go))


@credentials_app.command("list")
def list_(account: Account, as_json: JsonOption = False) -> None:
    """List an account's credentials of every kind and mode (secrets as hints)."""
    from kassa.accounts.provider_credentials import manage

    async def go(session: AsyncSession) -> list[dict[str, Any]]:
        rows = await session.scalars(manage.list_query(_operator(account)))
        return [_shown(r) for r in rows]

    def line(row: dict[str, Any]) -> str:
        mode = "live" if row["livemode"] else "test"
        return f"{row['id']}  {row['kind']:<10} {mode}  {row['description'] or ''}".rstrip()

    print_list(in_transaction(go), as_json=as_json, empty="No provider credentials.", line=line)


@credentials_app.command("show")
def show(credentials_id: CredentialsId, account: Account) -> None:
    """Print one set of credentials (secrets as hints) and its webhook URL."""
    from kassa.accounts.provider_credentials import manage

    async def go(session: AsyncSession) -> dict[str, Any]:
        row = await manage.get_credentials(
            session, _operator(account), credentials_id=credentials_id
        )
        return _shown(row)

    print_json(in_transaction(go))


@credentials_app.command("update")
def update(
    credentials_id: CredentialsId,
    account: Account,
    field: Fields = None,
    secret: Secrets = None,
    description: Description = None,
) -> None:
    """Replace the given fields (`--field name=` removes an optional one); others stay."""
    from kassa.accounts.provider_credentials import manage

    fields = _fields(field, secret, None)
    box = _box()

    async def go(session: AsyncSession) -> dict[str, Any]:
        row = await manage.update_credentials(
            session,
            _operator(account),
            credentials_id=credentials_id,
            fields=dict(fields),
            description=manage.UNSET if description is None else description,
            box=box,
            allow_private=composed_settings().webhook_allow_private,
        )
        return _shown(row)

    print_json(in_transaction(go))


@credentials_app.command("delete")
def delete(credentials_id: CredentialsId, account: Account) -> None:
    """Delete credentials: the account falls back to the install's, or is refused there."""
    from kassa.accounts.provider_credentials import manage

    async def go(session: AsyncSession) -> str:
        row = await manage.delete_credentials(
            session, _operator(account), credentials_id=credentials_id
        )
        return row.id

    typer.echo(f"deleted {in_transaction(go)}")
