"""payouts: affiliates, payees, subscription events, commissions, payout batches, transactions
and scheduled runs

Revision ID: 0014_payouts
Revises: 0013_chain
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kassa.core.db

revision: str = "0014_payouts"
down_revision: str | Sequence[str] | None = "0013_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "affiliates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("rate_bps", sa.BigInteger(), nullable=False),
        sa.Column(
            "tier_rates",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("minimum_payout", sa.BigInteger(), nullable=False),
        sa.Column("minimum_currency", sa.String(length=3), nullable=False),
        sa.Column("schedule", sa.String(length=10), nullable=True),
        sa.Column("schedule_time", sa.String(length=5), nullable=True),
        sa.Column("schedule_timezone", sa.String(length=64), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliates")),
        sa.UniqueConstraint(
            "account_id", "livemode", "code", name=op.f("uq_affiliates_account_id")
        ),
    )
    with op.batch_alter_table("affiliates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_affiliates_account", ["account_id", "livemode", "id"], unique=False
        )

    op.create_table(
        "payout_batches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("payment_count", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("run_key", sa.String(length=100), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("executed_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_batches")),
        sa.UniqueConstraint("number", name=op.f("uq_payout_batches_number")),
    )
    with op.batch_alter_table("payout_batches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payout_batches_account", ["account_id", "livemode", "id"], unique=False
        )

    op.create_table(
        "payout_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("run_key", sa.String(length=200), nullable=False),
        sa.Column("slot_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("batch_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_payout_runs_run_key")),
    )
    op.create_table(
        "subscription_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("affiliate_code", sa.String(length=64), nullable=False),
        sa.Column("affiliate_id", sa.String(length=40), nullable=True),
        sa.Column("subscription_id", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=True),
        sa.Column("old_tier", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("occurred_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_events")),
        sa.UniqueConstraint(
            "account_id", "livemode", "event_id", name=op.f("uq_subscription_events_account_id")
        ),
    )
    with op.batch_alter_table("subscription_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscription_events_account", ["account_id", "livemode", "id"], unique=False
        )

    op.create_table(
        "commissions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("affiliate_id", sa.String(length=40), nullable=False),
        sa.Column("source_event_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("rate_bps", sa.BigInteger(), nullable=False),
        sa.Column("base_amount", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=True),
        sa.Column("transaction_id", sa.String(length=40), nullable=True),
        sa.Column("approved_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paid_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["affiliate_id"], ["affiliates.id"], name=op.f("fk_commissions_affiliate_id_affiliates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commissions")),
        sa.UniqueConstraint(
            "affiliate_id", "source_event_id", name=op.f("uq_commissions_affiliate_id")
        ),
    )
    with op.batch_alter_table("commissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_commissions_account", ["account_id", "livemode", "id"], unique=False
        )
        batch_op.create_index(
            "ix_commissions_due", ["account_id", "livemode", "status", "currency"], unique=False
        )
        batch_op.create_index(
            "ix_commissions_subscription", ["affiliate_id", "subscription_id"], unique=False
        )

    op.create_table(
        "payees",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("affiliate_id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_payee_id", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("kyc_status", sa.String(length=20), nullable=False),
        sa.Column("invite_status", sa.String(length=20), nullable=False),
        sa.Column("invite_key", sa.String(length=80), nullable=True),
        sa.Column("invite_id", sa.String(length=100), nullable=True),
        sa.Column("invite_error", sa.String(length=500), nullable=True),
        sa.Column("invitation_sent_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "invitation_accepted_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("kyc_synced_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["affiliate_id"], ["affiliates.id"], name=op.f("fk_payees_affiliate_id_affiliates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payees")),
        sa.UniqueConstraint("provider", "provider_payee_id", name=op.f("uq_payees_provider")),
    )
    with op.batch_alter_table("payees", schema=None) as batch_op:
        batch_op.create_index("ix_payees_affiliate", ["affiliate_id", "id"], unique=False)

    op.create_table(
        "payout_transactions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("payee_id", sa.String(length=40), nullable=False),
        sa.Column("affiliate_id", sa.String(length=40), nullable=False),
        sa.Column("provider_payee_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("commission_count", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=True),
        sa.Column("provider_transaction_id", sa.String(length=255), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["payout_batches.id"],
            name=op.f("fk_payout_transactions_batch_id_payout_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["payee_id"], ["payees.id"], name=op.f("fk_payout_transactions_payee_id_payees")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_transactions")),
    )
    with op.batch_alter_table("payout_transactions", schema=None) as batch_op:
        batch_op.create_index("ix_payout_transactions_batch", ["batch_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payout_transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_transactions_batch")

    op.drop_table("payout_transactions")
    with op.batch_alter_table("payees", schema=None) as batch_op:
        batch_op.drop_index("ix_payees_affiliate")

    op.drop_table("payees")
    with op.batch_alter_table("commissions", schema=None) as batch_op:
        batch_op.drop_index("ix_commissions_subscription")
        batch_op.drop_index("ix_commissions_due")
        batch_op.drop_index("ix_commissions_account")

    op.drop_table("commissions")
    with op.batch_alter_table("subscription_events", schema=None) as batch_op:
        batch_op.drop_index("ix_subscription_events_account")

    op.drop_table("subscription_events")
    op.drop_table("payout_runs")
    with op.batch_alter_table("payout_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_batches_account")

    op.drop_table("payout_batches")
    with op.batch_alter_table("affiliates", schema=None) as batch_op:
        batch_op.drop_index("ix_affiliates_account")

    op.drop_table("affiliates")
