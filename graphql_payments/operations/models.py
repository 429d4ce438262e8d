"""Tables of the background repairs and of the audit trail.

* `repair_claims`: one row per thing a sweep works on (a stale payment, a half-done operation,
  a pending refund, the event catch-up). A sweep takes a row with a conditional UPDATE on its
  `next_attempt_at`, so with many server processes exactly one of them works on it at a time,
  and `attempts` bounds how often a refund is retried.
* `sweep_state`: named cursors and timestamps (the newest Stripe event caught up on, the last
  successful reconciliation pass).
* `audit_log`: who changed what through an admin or service mutation or an operator command.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from graphql_payments.db import Base, UTCDateTime, utcnow


class RepairClaim(Base):
    __tablename__ = "repair_claims"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SweepState(Base):
    __tablename__ = "sweep_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditRecord(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_created", "created_at", "id"),
        Index("ix_audit_log_actor", "actor_id", "created_at"),
        Index("ix_audit_log_payment", "payment_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[str | None] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(32))
    authenticated_by: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[str | None] = mapped_column(String(40))
    input: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
