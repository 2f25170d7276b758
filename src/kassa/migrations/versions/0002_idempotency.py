"""idempotency keys of the API

Revision ID: 0002_idempotency
Revises: 0001
Create Date: 2026-11-23 11:11:56.990575
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kassa.core.db

revision: str = "0002_idempotency"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lock_id", sa.String(length=40), nullable=False),
        sa.Column("response_status", sa.BigInteger(), nullable=True),
        sa.Column(
            "response_headers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_expires_at")
    op.drop_table("idempotency_keys")
