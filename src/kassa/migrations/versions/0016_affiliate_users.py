"""affiliate users: a user with the affiliate role is linked to one affiliate

Revision ID: 0016_affiliate_users
Revises: 0015_chain_refunds
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_affiliate_users"
down_revision: str | Sequence[str] | None = "0015_chain_refunds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("affiliate_id", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_affiliate_id"), ["affiliate_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_users_affiliate_id_affiliates"), "affiliates", ["affiliate_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_users_affiliate_id_affiliates"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_users_affiliate_id"))
        batch_op.drop_column("affiliate_id")
