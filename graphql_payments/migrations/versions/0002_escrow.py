"""escrow columns, one live escrow per order, refunds

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:21:42.606513
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# One live escrow per order (see Payment.__table_args__).
LIVE_ESCROW = sa.text(
    "kind = 'ESCROW' AND status NOT IN ('FAILED', 'REVERTED', 'EXPIRED', 'CANCELED')"
)


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "SUCCEEDED",
                "FAILED",
                "CANCELED",
                name="refundstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("stripe_refund_id", sa.String(length=255), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("stripe_refund_id", name=op.f("uq_refunds_stripe_refund_id")),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refunds_payment_id"), ["payment_id"], unique=False)

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("runner_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("runner_account_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("captured_amount", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("platform_fee", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("transfer_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("transferred_amount", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "transfer_reversed_amount", sa.BigInteger(), nullable=False, server_default="0"
            )
        )
        batch_op.add_column(sa.Column("hold_expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("pending_operation", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("requested_capture", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_payments_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "uq_payments_live_order",
            ["order_id"],
            unique=True,
            sqlite_where=LIVE_ESCROW,
            postgresql_where=LIVE_ESCROW,
        )


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payments_live_order", sqlite_where=LIVE_ESCROW, postgresql_where=LIVE_ESCROW
        )
        batch_op.drop_index(batch_op.f("ix_payments_order_id"))
        batch_op.drop_column("requested_capture")
        batch_op.drop_column("pending_operation")
        batch_op.drop_column("hold_expires_at")
        batch_op.drop_column("transfer_reversed_amount")
        batch_op.drop_column("transferred_amount")
        batch_op.drop_column("transfer_id")
        batch_op.drop_column("platform_fee")
        batch_op.drop_column("captured_amount")
        batch_op.drop_column("runner_account_id")
        batch_op.drop_column("runner_id")
        batch_op.drop_column("order_id")

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refunds_payment_id"))

    op.drop_table("refunds")
