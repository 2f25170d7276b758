"""chain monitor and stablecoin payment sessions: cursors, receiving addresses, transfers; sessions, quotes, bound transfers

Revision ID: 0013_chain
Revises: 0012_payment_next_action
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kassa.core.db

revision: str = "0013_chain"
down_revision: str | Sequence[str] | None = "0012_payment_next_action"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chain_cursors",
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("lease_until", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_chain_cursors")),
    )
    op.create_table(
        "chain_receiving_addresses",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_receiving_addresses")),
        sa.UniqueConstraint(
            "chain", "address", "livemode", name=op.f("uq_chain_receiving_addresses_chain")
        ),
    )
    with op.batch_alter_table("chain_receiving_addresses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chain_receiving_addresses_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "chain_transfers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("token_address", sa.String(length=42), nullable=False),
        sa.Column("token_symbol", sa.String(length=16), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("from_address", sa.String(length=42), nullable=False),
        sa.Column("to_address", sa.String(length=42), nullable=False),
        sa.Column("value", sa.String(length=78), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("confirmations", sa.BigInteger(), nullable=False),
        sa.Column("seen_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reorged_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_transfers")),
        sa.UniqueConstraint("chain", "tx_hash", "log_index", name=op.f("uq_chain_transfers_chain")),
    )
    with op.batch_alter_table("chain_transfers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chain_transfers_open", ["chain", "status", "block_number"], unique=False
        )
        batch_op.create_index(
            "ix_chain_transfers_to", ["chain", "to_address", "token_address"], unique=False
        )

    op.create_table(
        "payment_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("success_url", sa.String(length=2048), nullable=True),
        sa.Column("cancel_url", sa.String(length=2048), nullable=True),
        sa.Column("reported_tx_hash", sa.String(length=66), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("expires_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_sessions")),
    )
    with op.batch_alter_table("payment_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_sessions_account", ["account_id", "livemode", "id"], unique=False
        )
        batch_op.create_index("ix_payment_sessions_open", ["status", "expires_at"], unique=False)

    op.create_table(
        "payment_session_quotes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("token_symbol", sa.String(length=16), nullable=False),
        sa.Column("token_address", sa.String(length=42), nullable=False),
        sa.Column("decimals", sa.BigInteger(), nullable=False),
        sa.Column("to_address", sa.String(length=42), nullable=False),
        sa.Column("units", sa.String(length=78), nullable=False),
        sa.Column("open_key", sa.String(length=220), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["payment_sessions.id"],
            name=op.f("fk_payment_session_quotes_session_id_payment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_session_quotes")),
        sa.UniqueConstraint("open_key", name=op.f("uq_payment_session_quotes_open_key")),
    )
    with op.batch_alter_table("payment_session_quotes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_session_quotes_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "payment_session_transfers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("transfer_id", sa.String(length=40), nullable=False),
        sa.Column("bound_by", sa.String(length=20), nullable=False),
        sa.Column("created_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["payment_sessions.id"],
            name=op.f("fk_payment_session_transfers_session_id_payment_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_session_transfers")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_payment_session_transfers_transfer_id")),
    )
    with op.batch_alter_table("payment_session_transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_session_transfers_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_session_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_session_transfers_session_id"))

    op.drop_table("payment_session_transfers")
    with op.batch_alter_table("payment_session_quotes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_session_quotes_session_id"))

    op.drop_table("payment_session_quotes")
    with op.batch_alter_table("payment_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_sessions_open")
        batch_op.drop_index("ix_payment_sessions_account")

    op.drop_table("payment_sessions")
    with op.batch_alter_table("chain_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_chain_transfers_to")
        batch_op.drop_index("ix_chain_transfers_open")

    op.drop_table("chain_transfers")
    with op.batch_alter_table("chain_receiving_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_receiving_addresses_account_id"))

    op.drop_table("chain_receiving_addresses")
    op.drop_table("chain_cursors")
