"""Tables of the accounts context."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kassa.core.db import Base

ROLES = ("admin", "manager", "affiliate")
# ``api_keys`` (list, create, revoke keys) is never in a key unless asked for: an integration
# key that could mint keys could mint itself any scope it was denied. Nor is
# ``provider_credentials`` (an account's own Stripe/PayPal/Braintree credentials): whoever
# sets them decides where the account's money goes.
SCOPES = ("read", "write", "refund", "api_keys", "provider_credentials")
DEFAULT_SCOPES = ("read", "write", "refund")


class Account(Base):
    """A merchant: every object kassa keeps belongs to exactly one account."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # An affiliate user reads and edits only this affiliate's payout records (exactly one).
    affiliate_id: Mapped[str | None] = mapped_column(ForeignKey("affiliates.id"), index=True)
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class ApiKey(Base):
    """A secret key; only its SHA-256 is stored, the key itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    livemode: Mapped[bool]
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    redacted: Mapped[str] = mapped_column(String(40))
    scopes: Mapped[list[Any]]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed sign-ins of one email or one client address, shared by every API process."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # email:<sha256> | ip:<addr>
    failures: Mapped[int]  # attempts counted since window_started_at (lockouts reset it)
    window_started_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    lockouts: Mapped[int]  # lockouts so far; each lasts twice as long as the one before
    updated_at: Mapped[datetime] = mapped_column(index=True)
