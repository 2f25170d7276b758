"""The merchant's receiving addresses: where customers pay (kassa never holds the funds).

One address per chain and mode belongs to one account, and an address of one account is
never another's in the other mode: a transfer to it names its merchant.
A mixed-case address must carry a valid EIP-55 checksum (a mistyped address is caught)."""

from __future__ import annotations

import re

from eth_utils.address import is_checksum_address
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.chain.config import Chain
from kassa.chain.models import ReceivingAddress
from kassa.core import audit, clock, ids
from kassa.core.errors import Conflict, InvalidRequest, NotFound
from kassa.payins.sessions.errors import CHAIN_NOT_CONFIGURED, RECEIVING_ADDRESS_TAKEN

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def checked_address(address: str) -> str:
    if not _ADDRESS.match(address):
        raise InvalidRequest("An address is 0x and 40 hexadecimal digits.", param="address")
    body = address[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(address):
        raise InvalidRequest(
            "The address's EIP-55 checksum is wrong: check it for a typo.", param="address"
        )
    if int(body, 16) == 0:
        raise InvalidRequest("The zero address cannot receive payments.", param="address")
    return address.lower()


async def add_address(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    chain: str,
    address: str,
    chains: dict[str, Chain],
) -> ReceivingAddress:
    if chain not in chains:
        raise CHAIN_NOT_CONFIGURED(
            f"Chain {chain!r} is not configured; configured: {', '.join(sorted(chains)) or 'none'}.",
            param="chain",
        )
    checked = checked_address(address)
    # The unique constraint is per mode; an address of another account, in either mode, is
    # refused too: it would see (and could assign) every transfer paying that account.
    held_elsewhere = await session.scalar(
        select(ReceivingAddress.id).where(
            ReceivingAddress.chain == chain,
            ReceivingAddress.address == checked,
            ReceivingAddress.account_id != account_id,
        )
    )
    if held_elsewhere is not None:
        raise _taken()
    row = ReceivingAddress(
        id=ids.new_id("cra"),
        account_id=account_id,
        livemode=livemode,
        chain=chain,
        address=checked,
        created_at=clock.now(),
    )
    try:
        async with session.begin_nested():
            audit.add_created(
                session,
                row,
                "receiving_address",
                account_id=account_id,
                after={"chain": chain, "address": row.address},
            )
    except IntegrityError:
        raise _taken() from None
    return row


def _taken() -> Conflict:
    return RECEIVING_ADDRESS_TAKEN(
        "This address is already a receiving address on that chain (of this account or "
        "another); each address belongs to one account.",
        param="address",
    )


async def list_addresses(
    session: AsyncSession, *, account_id: str, livemode: bool
) -> list[ReceivingAddress]:
    rows = await session.scalars(
        select(ReceivingAddress)
        .where(ReceivingAddress.account_id == account_id, ReceivingAddress.livemode == livemode)
        .order_by(ReceivingAddress.id.desc())
    )
    return list(rows)


async def remove_address(
    session: AsyncSession, *, account_id: str, livemode: bool, address_id: str
) -> ReceivingAddress:
    """Stop using an address for new sessions (open sessions keep theirs until they end)."""
    row = await session.scalar(
        select(ReceivingAddress).where(
            ReceivingAddress.id == address_id,
            ReceivingAddress.account_id == account_id,
            ReceivingAddress.livemode == livemode,
        )
    )
    if row is None:
        raise NotFound(f"No such receiving address: {address_id!r}.", param="id")
    await session.delete(row)
    audit.record(
        session,
        action="receiving_address.delete",
        object_type="receiving_address",
        object_id=row.id,
        account_id=account_id,
        before={"chain": row.chain, "address": row.address},
    )
    return row
