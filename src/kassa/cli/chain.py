"""`kassa chain ...`: the stablecoin chains' operations (the refund hot wallet, transfers no
session claimed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kassa.cli.bootstrap import (
    EXIT_USAGE,
    composed_settings,
    fail,
    load_settings,
    new_app,
    print_list,
    with_sessions,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

app = new_app("Stablecoin chains: the hot wallet refunds are sent from.")
hot_wallet_app = new_app("The hot wallet: its key, encrypted at rest with KASSA_SECRET_KEY.")
app.add_typer(hot_wallet_app, name="hot-wallet")
transfers_app = new_app("Token transfers to receiving addresses; assign unmatched ones.")
app.add_typer(transfers_app, name="transfers")

Account = Annotated[str, typer.Option(help="The account (acct_...).")]
Live = Annotated[bool, typer.Option("--live", help="Live mode (default: test mode).")]


@hot_wallet_app.command("import")
def import_key(
    key_file: Annotated[
        Path | None,
        typer.Option(help="Where to write it (default: var/hot_wallet.key)."),
    ] = None,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the key from standard input, not a prompt.")
    ] = False,
) -> None:
    """Encrypt a private key (0x + 64 hex digits) into a key file only you can read; then
    set KASSA_HOT_WALLET_KEY_FILE to it. The key is never printed."""
    from kassa.chain.wallet import write_key_file
    from kassa.core.errors import ConfigurationError

    settings = load_settings()
    if stdin:
        key = sys.stdin.readline().strip()
    else:
        key = typer.prompt("Hot wallet private key", hide_input=True).strip()
    path = key_file or settings.var_dir / "hot_wallet.key"
    try:
        address = write_key_file(settings, path, key)
    except ConfigurationError as exc:
        fail(str(exc), EXIT_USAGE)
    typer.echo(f"hot wallet {address}: key written to {path} (mode 0600)")
    typer.echo(f"set KASSA_HOT_WALLET_KEY_FILE={path}")


def _line(row: dict[str, Any]) -> str:
    bound = row["session_id"] or "unmatched"
    return (
        f"{row['id']}  {row['chain']}  {row['value_text']} {row['token']}  "
        f"from {row['from_address']}  {row['status']}  {bound}  {row['tx_hash']}"
    )


@transfers_app.command("list")
def list_transfers(
    account: Account,
    live: Live = False,
    all_: Annotated[
        bool, typer.Option("--all", help="Also those bound to a session (default: unmatched).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The account's transfers no session claimed, newest first (as GET
    /v1/chain_transfers?matched=false)."""
    from kassa.chain.config import chains_of
    from kassa.chain.models import ChainTransfer
    from kassa.payins.sessions.schemas import TransferOut
    from kassa.payins.sessions.unmatched import account_transfers, bound_sessions

    settings = composed_settings()
    chains = chains_of(settings)

    async def go(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
        query = account_transfers(
            account_id=account, livemode=live, matched=None if all_ else False
        )
        async with sessions() as reads:
            rows = list(await reads.scalars(query.order_by(ChainTransfer.id.desc()).limit(limit)))
            bound = await bound_sessions(reads, [r.id for r in rows])
        out = []
        for row in rows:
            chain = chains.get(row.chain)
            token = chain.token_at(row.token_address) if chain else None
            decimals = token.decimals if token else 0
            out.append(TransferOut.of(row, decimals, bound.get(row.id)).json_value())
        return out

    print_list(
        with_sessions(go, settings), as_json=as_json, empty="no unmatched transfers", line=_line
    )


@transfers_app.command("assign")
def assign(
    transfer: Annotated[str, typer.Argument(help="The transfer (ctr_...).")],
    session: Annotated[str, typer.Option("--session", help="The payment session (ps_...).")],
    account: Account,
    live: Live = False,
) -> None:
    """Assign an unmatched transfer to a payment session of the same account, chain, token
    and address (as POST /v1/chain_transfers/{id}/assign); the session then settles."""
    from kassa.payins.sessions.unmatched import assign_transfer

    async def go(sessions: async_sessionmaker[AsyncSession]) -> str:
        done = await assign_transfer(sessions, transfer, session, account_id=account, livemode=live)
        return done.session_id

    bound = with_sessions(go)
    typer.echo(f"{transfer} assigned to {bound}")
