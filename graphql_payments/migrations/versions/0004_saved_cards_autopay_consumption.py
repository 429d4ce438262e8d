"""saved cards, autopay, consumption

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:53:40
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "payment_methods",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("brand", sa.String(length=32), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("exp_month", sa.Integer(), nullable=True),
        sa.Column("exp_year", sa.Integer(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("detached_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_methods")),
    )
    with op.batch_alter_table("payment_methods", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_methods_stripe_customer_id"),
            ["stripe_customer_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_payment_methods_user", ["user_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "autopays",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ACTIVE",
                "PAST_DUE",
                "PAUSED",
                "DISABLED",
                name="autopaystatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "paused_reason",
            sa.Enum(
                "PAYMENT_FAILED",
                "AUTHENTICATION_REQUIRED",
                "NO_PAYMENT_METHOD",
                name="pausedreason",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("package_id", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("day_of_month", sa.Integer(), nullable=True),
        sa.Column("below_balance", sa.BigInteger(), nullable=True),
        sa.Column("payment_method_id", sa.String(length=255), nullable=True),
        sa.Column("next_charge_at", sa.DateTime(), nullable=True),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("failed_payment_method_id", sa.String(length=255), nullable=True),
        sa.Column("last_payment_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["last_payment_id"], ["payments.id"], name=op.f("fk_autopays_last_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autopays")),
        sa.UniqueConstraint("user_id", name=op.f("uq_autopays_user_id")),
    )
    with op.batch_alter_table("autopays", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_autopays_status"), ["status"], unique=False)

    op.create_table(
        "autopay_periods",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("autopay_id", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column(
            "trigger",
            sa.Enum("MONTHLY", "THRESHOLD", name="trigger", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["autopay_id"], ["autopays.id"], name=op.f("fk_autopay_periods_autopay_id_autopays")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_autopay_periods_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autopay_periods")),
        sa.UniqueConstraint(
            "autopay_id", "period", name=op.f("uq_autopay_periods_autopay_id_period")
        ),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_action_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("client_secret", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("autopay_id", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_payments_autopay_id"), ["autopay_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_autopay_id"))
        batch_op.drop_column("autopay_id")
        batch_op.drop_column("client_secret")
        batch_op.drop_column("next_action_url")

    op.drop_table("autopay_periods")
    with op.batch_alter_table("autopays", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_autopays_status"))

    op.drop_table("autopays")
    with op.batch_alter_table("payment_methods", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_methods_user")
        batch_op.drop_index(batch_op.f("ix_payment_methods_stripe_customer_id"))

    op.drop_table("payment_methods")
