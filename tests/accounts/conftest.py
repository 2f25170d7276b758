"""Fixtures of the accounts tests."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its lowest cost: these tests check many passwords, not the hash's strength
    (which costs about half a second per check on a busy test machine)."""
    monkeypatch.setattr(
        "kassa.accounts.users._hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
