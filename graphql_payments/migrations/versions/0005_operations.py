"""repair claims, sweep state, audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repair_claims",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "target_id", name=op.f("pk_repair_claims")),
    )
    with op.batch_alter_table("repair_claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_repair_claims_updated_at"), ["updated_at"], unique=False
        )
    op.create_table(
        "sweep_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sweep_state")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=True),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("authenticated_by", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_audit_log_actor", ["actor_id", "created_at"], unique=False)
        batch_op.create_index("ix_audit_log_payment", ["payment_id", "created_at"], unique=False)
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_events_handled_at", ["handled_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_handled_at")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_payment")
        batch_op.drop_index("ix_audit_log_actor")
        batch_op.drop_index("ix_audit_log_created")
    op.drop_table("audit_log")
    op.drop_table("sweep_state")
    with op.batch_alter_table("repair_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repair_claims_updated_at"))
    op.drop_table("repair_claims")
