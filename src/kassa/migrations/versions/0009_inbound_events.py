"""inbound_events: events received from providers, stored once per (provider, credentials, event id)

Revision ID: 0009_inbound_events
Revises: 0008_login_throttles
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kassa.core.db

revision: str = "0009_inbound_events"
down_revision: str | Sequence[str] | None = "0008_login_throttles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("credentials_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("object_id", sa.String(length=40), nullable=True),
        sa.Column("received_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_events")),
        sa.UniqueConstraint(
            "provider", "credentials_id", "event_id", name=op.f("uq_inbound_events_provider")
        ),
    )
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbound_events_account", ["account_id", "livemode", "id"], unique=False
        )
        batch_op.create_index("ix_inbound_events_status", ["status", "received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_events_status")
        batch_op.drop_index("ix_inbound_events_account")

    op.drop_table("inbound_events")
