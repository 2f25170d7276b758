"""Development bootstrap: a demo account, an admin user and a test API key, kept under var/.

`kassa run` (in development) and `kassa demo` call this. The credentials are written to
``var/demo.json`` (mode 0600, in a 0700 folder) so every later start can print them again; a
production start never creates or prints them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.accounts.accounts import create_account
from kassa.accounts.api_keys import create_api_key
from kassa.accounts.models import Account
from kassa.accounts.users import create_user
from kassa.core.crypto import random_token
from kassa.core.db import transaction
from kassa.core.private_files import write_private

DEMO_ADMIN_EMAIL = "admin@kassa.local"


@dataclass(frozen=True)
class DemoCredentials:
    account_id: str
    api_key: str
    admin_email: str
    admin_password: str


def _path(var_dir: Path) -> Path:
    return var_dir / "demo.json"


async def ensure_demo(sessions: async_sessionmaker[AsyncSession], var_dir: Path) -> DemoCredentials:
    """Return the demo credentials, creating them on first start."""
    path = _path(var_dir)
    if path.exists():
        saved = DemoCredentials(**json.loads(path.read_text()))
        async with transaction(sessions) as session:
            if await session.scalar(select(Account.id).where(Account.id == saved.account_id)):
                return saved
    password = random_token(12)
    async with transaction(sessions) as session:
        account = await create_account(session, name="Demo merchant", email=DEMO_ADMIN_EMAIL)
        issued = await create_api_key(session, account_id=account.id, name="demo")
        await create_user(
            session, email=DEMO_ADMIN_EMAIL, password=password, role="admin", account_id=account.id
        )
    creds = DemoCredentials(account.id, issued.secret, DEMO_ADMIN_EMAIL, password)
    write_private(path, json.dumps(asdict(creds), indent=2))
    return creds
