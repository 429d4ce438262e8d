"""credit balances kept per user

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_balances",
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_credit_balances")),
    )
    # Every existing ledger counted once, in the same migration that starts keeping balances.
    op.execute(
        "INSERT INTO credit_balances (user_id, balance) "
        "SELECT user_id, SUM(delta) FROM credit_entries GROUP BY user_id"
    )


def downgrade() -> None:
    op.drop_table("credit_balances")
