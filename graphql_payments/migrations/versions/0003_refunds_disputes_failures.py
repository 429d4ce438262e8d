"""refund and dispute records, failed attempts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:30:09.814115
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("stripe_dispute_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("credits_held", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_disputes_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint("stripe_dispute_id", name=op.f("uq_disputes_stripe_dispute_id")),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disputes_payment_id"), ["payment_id"], unique=False)

    op.create_table(
        "payment_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "PAYMENT_ATTEMPT",
                "CHECKOUT_EXPIRED",
                "ASYNC_PAYMENT",
                "REFUND",
                name="failuresource",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=True),
        sa.Column("decline_code", sa.String(length=100), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_failures_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_failures")),
        sa.UniqueConstraint(
            "payment_id",
            "source",
            "reference",
            name=op.f("uq_payment_failures_payment_id_source_reference"),
        ),
    )
    with op.batch_alter_table("payment_failures", schema=None) as batch_op:
        batch_op.create_index("ix_payment_failures_created", ["created_at", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_payment_failures_payment_id"), ["payment_id"], unique=False
        )

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dispute_lost_amount", sa.BigInteger(), nullable=False, server_default="0")
        )

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("transfer_reversal", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("transfer_reversed", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_column("transfer_reversed")
        batch_op.drop_column("transfer_reversal")

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("dispute_lost_amount")

    with op.batch_alter_table("payment_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_failures_payment_id"))
        batch_op.drop_index("ix_payment_failures_created")

    op.drop_table("payment_failures")
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disputes_payment_id"))

    op.drop_table("disputes")
