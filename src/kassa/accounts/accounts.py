"""Creating and reading accounts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts.models import Account
from kassa.core import audit, clock
from kassa.core.errors import InvalidRequest, NotFound
from kassa.core.ids import new_id


async def create_account(session: AsyncSession, *, name: str, email: str | None = None) -> Account:
    if not name.strip():
        raise InvalidRequest("An account needs a name.", param="name")
    account = Account(id=new_id("acct"), name=name.strip(), email=email, created_at=clock.now())
    after = {"name": account.name, "email": email}
    return audit.add_created(session, account, "account", account_id=account.id, after=after)


async def get_account(session: AsyncSession, account_id: str) -> Account:
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound(f"No account {account_id!r}.", param="account")
    return account
