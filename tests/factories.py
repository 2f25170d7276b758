"""Builders for test data through the real use cases (never raw inserts)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.accounts.accounts import create_account
from kassa.accounts.api_keys import create_api_key
from kassa.accounts.models import SCOPES
from kassa.core.db import transaction


@dataclass(frozen=True)
class Merchant:
    account_id: str
    key: str
    key_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def merchant(
    sessions: async_sessionmaker[AsyncSession],
    name: str = "Acme",
    scopes: tuple[str, ...] = SCOPES,  # the owner's key: every scope, managing keys too
    livemode: bool = False,
) -> Merchant:
    async with transaction(sessions) as session:
        account = await create_account(session, name=name)
        issued = await create_api_key(
            session, account_id=account.id, scopes=scopes, livemode=livemode
        )
    return Merchant(account.id, issued.secret, issued.api_key.id)
