"""The `credit_entries` table: an immutable ledger of credit movements, and `credit_balances`.

A balance is the sum of a user's entries. Each entry is unique per (payment, reason,
reference), so whatever arrives twice, a payment credits at most once. `credit_balances` keeps
that sum per user, changed in the same transaction as each entry it counts (see
`repository.add_entry`), so reading a balance is one primary-key read however many entries the
user has; `ledger verify` checks that every balance equals its entries' sum.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from graphql_payments.db import Base, UTCDateTime, utcnow


class EntryReason(enum.Enum):
    PURCHASE = "PURCHASE"  # + credits a paid purchase bought
    REFUND = "REFUND"  # - credits a refund takes back (reference: our refund id)
    REFUND_RESTORED = "REFUND_RESTORED"  # + credits given back when that refund failed
    DISPUTE_HOLD = "DISPUTE_HOLD"  # - credits held while a dispute is open (reference: dispute)
    DISPUTE_RELEASED = "DISPUTE_RELEASED"  # + the held credits, when the dispute is won
    ADJUSTMENT = "ADJUSTMENT"  # a correction or a use of credits recorded by another flow
    CONSUMPTION = "CONSUMPTION"  # - credits spent (`consumeCredits`; reference: the caller's)


class CreditEntry(Base):
    __tablename__ = "credit_entries"
    __table_args__ = (UniqueConstraint("payment_id", "reason", "reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    delta: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[EntryReason] = mapped_column(
        Enum(EntryReason, native_enum=False, length=32, validate_strings=True)
    )
    payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"))
    reference: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CreditBalance(Base):
    __tablename__ = "credit_balances"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger)
