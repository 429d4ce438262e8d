"""The `autopays` table (one per user) and `autopay_periods` (one row per charged period).

A period row is the claim that makes a charge happen once: its (autopay, period) pair is
unique, so whichever process inserts it first charges, and every other one finds it taken.
Retries of a declined period bump `attempts` with a compare-and-set on the same row.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from graphql_payments.db import Base, UTCDateTime, utcnow


class AutopayStatus(enum.Enum):
    ACTIVE = "ACTIVE"  # charges when a trigger fires
    PAST_DUE = "PAST_DUE"  # the last charge was declined; retried on the retry schedule
    PAUSED = "PAUSED"  # waits for the customer (see PausedReason)
    DISABLED = "DISABLED"  # turned off


class PausedReason(enum.Enum):
    PAYMENT_FAILED = "PAYMENT_FAILED"  # every retry was declined
    AUTHENTICATION_REQUIRED = "AUTHENTICATION_REQUIRED"  # the bank wants the customer present
    NO_PAYMENT_METHOD = "NO_PAYMENT_METHOD"  # no saved card is left


class Trigger(enum.Enum):
    MONTHLY = "MONTHLY"
    THRESHOLD = "THRESHOLD"


def new_autopay_id() -> str:
    return f"ap_{uuid.uuid4().hex}"


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=32, validate_strings=True)


class Autopay(Base):
    __tablename__ = "autopays"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_autopay_id)
    user_id: Mapped[str] = mapped_column(String(128), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[AutopayStatus] = mapped_column(_enum(AutopayStatus), index=True)
    paused_reason: Mapped[PausedReason | None] = mapped_column(_enum(PausedReason))
    credits: Mapped[int] = mapped_column(BigInteger)
    package_id: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    day_of_month: Mapped[int | None] = mapped_column(Integer)
    below_balance: Mapped[int | None] = mapped_column(BigInteger)
    # None: charge the customer's default card.
    payment_method_id: Mapped[str | None] = mapped_column(String(255))
    next_charge_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    # The card of the charge that paused or declined; another card resumes the autopay.
    failed_payment_method_id: Mapped[str | None] = mapped_column(String(255))
    last_payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AutopayPeriod(Base):
    """One charged period: `MONTHLY` periods are `YYYY-MM`, `THRESHOLD` ones `YYYY-MM-DD#n`."""

    __tablename__ = "autopay_periods"
    __table_args__ = (UniqueConstraint("autopay_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    autopay_id: Mapped[str] = mapped_column(ForeignKey("autopays.id"))
    period: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[Trigger] = mapped_column(_enum(Trigger))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD of the claim, by the clock
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"))
    # When the period was claimed, by the scheduler's clock; retries count from here.
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
