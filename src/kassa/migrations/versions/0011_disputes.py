"""disputes: customers' disputes of payments; payments.dispute_id; payments found by provider id

Revision ID: 0011_disputes
Revises: 0010_provider_credentials
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.core.db

revision: str = "0011_disputes"
down_revision: str | Sequence[str] | None = "0010_provider_credentials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_dispute_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("evidence_due_by", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_disputes_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint("provider", "provider_dispute_id", name="uq_disputes_provider_dispute"),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index("ix_disputes_account", ["account_id", "livemode", "id"], unique=False)
        batch_op.create_index("ix_disputes_payment", ["payment_id"], unique=False)

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dispute_id", sa.String(length=40), nullable=True))
        batch_op.create_index("ix_payments_provider_payment", ["provider_payment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_provider_payment")
        batch_op.drop_column("dispute_id")

    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index("ix_disputes_payment")
        batch_op.drop_index("ix_disputes_account")

    op.drop_table("disputes")
