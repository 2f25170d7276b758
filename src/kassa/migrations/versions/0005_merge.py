"""Merge the idempotency, outbound webhooks and pay-ins branches.

Revision ID: 0005_merge
Revises: 0002_idempotency, 0003_webhooks_out, 0004_payins
"""

from collections.abc import Sequence

revision: str = "0005_merge"
down_revision: str | Sequence[str] | None = ("0002_idempotency", "0003_webhooks_out", "0004_payins")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
