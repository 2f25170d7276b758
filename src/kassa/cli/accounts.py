"""`kassa account-create`, `kassa apikey ...`, `kassa user ...`: merchants, keys, users."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from kassa.cli.bootstrap import JsonOption, in_transaction, new_app, print_list

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

app = typer.Typer(
    rich_markup_mode=None
)  # no name: account-create sits at the top level, beside the two groups
apikey_app = new_app("Create, list and revoke API keys.")
user_app = new_app("Manage dashboard users.")
app.add_typer(apikey_app, name="apikey")
app.add_typer(user_app, name="user")
Account = Annotated[str, typer.Option(help="Account id (acct_...).")]


@app.command("account-create")
def account_create(
    name: Annotated[str, typer.Option(help="The merchant's name.")],
    email: Annotated[str | None, typer.Option(help="Contact email.")] = None,
) -> None:
    """Create a merchant account and print its id."""
    from kassa.accounts.accounts import create_account

    async def go(session: AsyncSession) -> str:
        return (await create_account(session, name=name, email=email)).id

    typer.echo(in_transaction(go))


@apikey_app.command("create")
def apikey_create(
    account: Account,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
    scopes: Annotated[
        str,
        typer.Option(
            help="Comma-separated, of read, write, refund, api_keys, provider_credentials."
        ),
    ] = "read,write,refund",
    live: Annotated[bool, typer.Option("--live", help="A live key (sk_live_).")] = False,
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    from kassa.accounts.accounts import get_account
    from kassa.accounts.api_keys import create_api_key

    async def go(session: AsyncSession) -> str:
        await get_account(session, account)
        issued = await create_api_key(
            session,
            account_id=account,
            livemode=live,
            name=name,
            scopes=[s.strip() for s in scopes.split(",") if s.strip()],
        )
        return f"{issued.api_key.id}  {issued.secret}"

    typer.echo(in_transaction(go))
    typer.secho("Store the key now: kassa keeps only its hash.", fg=typer.colors.YELLOW, err=True)


@apikey_app.command("list")
def apikey_list(account: Account, as_json: JsonOption = False) -> None:
    """List an account's API keys (never the secrets)."""
    from kassa.accounts.api_keys import list_api_keys

    async def go(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            {
                "id": k.id,
                "name": k.name,
                "key": k.redacted,
                "scopes": k.scopes,
                "livemode": k.livemode,
                "revoked": k.revoked_at is not None,
                "last_used_at": k.last_used_at,
            }
            for k in await list_api_keys(session, account_id=account)
        ]

    print_list(in_transaction(go), as_json=as_json)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")], account: Account
) -> None:
    """Revoke an API key; requests with it fail from now on."""
    from kassa.accounts.api_keys import revoke_api_key

    async def go(session: AsyncSession) -> str:
        key = await revoke_api_key(session, account_id=account, key_id=key_id)
        return f"revoked {key.id} ({key.redacted})"

    typer.echo(in_transaction(go))


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    role: Annotated[str, typer.Option(help="admin, manager or affiliate.")] = "manager",
    account: Annotated[str | None, typer.Option(help="Account id; optional for admins.")] = None,
    affiliate: Annotated[
        str | None,
        typer.Option(help="An affiliate user's affiliate (aff_...): it sees only its records."),
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            envvar="KASSA_NEW_USER_PASSWORD", help="Password (prompted for when not given)."
        ),
    ] = None,
) -> None:
    """Create a dashboard user."""
    from kassa.accounts.users import create_user

    secret = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def go(session: AsyncSession) -> str:
        if role == "affiliate" and affiliate and account:
            from kassa.payouts.access import create_affiliate_user

            user = await create_affiliate_user(
                session, email=email, password=secret, account_id=account, affiliate_id=affiliate
            )
        else:  # refused there with the reason (an affiliate needs its account and affiliate)
            user = await create_user(
                session,
                email=email,
                password=secret,
                role=role,
                account_id=account,
                affiliate_id=affiliate,
            )
        linked = f" of {user.affiliate_id}" if user.affiliate_id else ""
        return f"created {user.role}{linked} {user.email} ({user.id})"

    typer.echo(in_transaction(go))
