"""refunds.request_key: the API Idempotency-Key that created a refund

Revision ID: 0007_refund_request_key
Revises: 0006_payment_request_key
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_refund_request_key"
down_revision: str | Sequence[str] | None = "0006_payment_request_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_key", sa.String(length=255), nullable=True))
        batch_op.create_index("ix_refunds_request_key", ["account_id", "request_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_request_key")
        batch_op.drop_column("request_key")
