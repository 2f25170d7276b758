"""The table of accounts' provider credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kassa.core.db import Base

_ACTIVE = text("deleted_at IS NULL")


class ProviderCredentials(Base):
    """One account's credentials of one provider kind in one mode (``pcr_...``).

    ``fields_enc`` holds every field (secret or not) as JSON encrypted with KASSA_SECRET_KEY;
    ``display`` what may be shown (non-secret fields in clear, hints of secrets), so listing
    them never decrypts anything. Deleted ones stay (soft delete) for the audit trail and so
    their id never serves again."""

    __tablename__ = "provider_credentials"
    __table_args__ = (
        # At most one active set per account, kind and mode: which one serves is never a guess.
        Index(
            "uq_provider_credentials_active",
            "account_id",
            "kind",
            "livemode",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
        Index("ix_provider_credentials_account", "account_id", "livemode", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(32))
    livemode: Mapped[bool]
    fields_enc: Mapped[str] = mapped_column(Text)
    display: Mapped[dict[str, Any]]
    description: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
