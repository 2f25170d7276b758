"""provider_credentials: accounts' own provider credentials, encrypted, one active per kind and mode

Revision ID: 0010_provider_credentials
Revises: 0009_inbound_events
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kassa.core.db

revision: str = "0010_provider_credentials"
down_revision: str | Sequence[str] | None = "0009_inbound_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("deleted_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "provider_credentials",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("fields_enc", sa.Text(), nullable=False),
        sa.Column(
            "display",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_provider_credentials_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_credentials")),
    )
    with op.batch_alter_table("provider_credentials", schema=None) as batch_op:
        batch_op.create_index(
            "ix_provider_credentials_account", ["account_id", "livemode", "id"], unique=False
        )
        batch_op.create_index(
            "uq_provider_credentials_active",
            ["account_id", "kind", "livemode"],
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        )


def downgrade() -> None:
    with op.batch_alter_table("provider_credentials", schema=None) as batch_op:
        batch_op.drop_index("uq_provider_credentials_active")
        batch_op.drop_index("ix_provider_credentials_account")

    op.drop_table("provider_credentials")
