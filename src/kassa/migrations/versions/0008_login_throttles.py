"""login_throttles: failed sign-ins per email and per client address, for lockouts

Revision ID: 0008_login_throttles
Revises: 0007_refund_request_key
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.core.db

revision: str = "0008_login_throttles"
down_revision: str | Sequence[str] | None = "0007_refund_request_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.BigInteger(), nullable=False),
        sa.Column("window_started_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", kassa.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lockouts", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", kassa.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_throttles_updated_at"), ["updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttles_updated_at"))
    op.drop_table("login_throttles")
