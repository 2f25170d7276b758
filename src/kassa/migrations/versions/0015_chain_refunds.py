"""stablecoin refunds from the hot wallet: refunds, wallet nonces, node health, chain alerts

Revision ID: 0015_chain_refunds
Revises: 0014_payouts (after 0013_chain: its refunds reference payment_sessions)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.core.db

revision: str = "0015_chain_refunds"
down_revision: str | Sequence[str] | None = "0014_payouts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chain_alerts",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("since", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_sent_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_chain_alerts")),
    )
    op.create_table(
        "chain_node_health",
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("node", sa.String(length=200), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("up", sa.Boolean(), nullable=False),
        sa.Column("block_height", sa.BigInteger(), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.Column("lagging", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("checked_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain", "node", name=op.f("pk_chain_node_health")),
    )
    op.create_table(
        "chain_wallet_nonces",
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain", "wallet", name=op.f("pk_chain_wallet_nonces")),
    )
    op.create_table(
        "payment_session_refunds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("token_symbol", sa.String(length=16), nullable=False),
        sa.Column("token_address", sa.String(length=42), nullable=False),
        sa.Column("decimals", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.String(length=78), nullable=False),
        sa.Column("to_address", sa.String(length=42), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("failure_reason", sa.String(length=500), nullable=True),
        sa.Column("waiting_reason", sa.String(length=300), nullable=True),
        sa.Column("wallet", sa.String(length=42), nullable=True),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("raw_tx", sa.Text(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("tx_hashes", sa.Text(), nullable=False),
        sa.Column("max_fee_per_gas", sa.String(length=40), nullable=True),
        sa.Column("max_priority_fee_per_gas", sa.String(length=40), nullable=True),
        sa.Column("sent_at_block", sa.BigInteger(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("confirmations", sa.BigInteger(), nullable=False),
        sa.Column("fee_paid", sa.String(length=40), nullable=True),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["payment_sessions.id"],
            name=op.f("fk_payment_session_refunds_session_id_payment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_session_refunds")),
    )
    op.create_index(
        "ix_payment_session_refunds_open",
        "payment_session_refunds",
        ["status", "chain"],
        unique=False,
    )
    op.create_index(
        op.f("ix_payment_session_refunds_session_id"),
        "payment_session_refunds",
        ["session_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_payment_session_refunds_session_id"), table_name="payment_session_refunds"
    )
    op.drop_index("ix_payment_session_refunds_open", table_name="payment_session_refunds")
    op.drop_table("payment_session_refunds")
    op.drop_table("chain_wallet_nonces")
    op.drop_table("chain_node_health")
    op.drop_table("chain_alerts")
