"""The `payments` table: one row per payment of any kind."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Protocol

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from graphql_payments.db import Base, UTCDateTime, utcnow

# How a payment is looked up for showing (`paymentStatus`): our id, Stripe's Checkout Session
# id, or the order id (the order's newest escrow payment).
BY_ID = "id"
BY_CHECKOUT_SESSION = "checkout_session_id"
BY_ORDER = "order_id"


class PaymentKind(enum.Enum):
    CREDIT_PURCHASE = "CREDIT_PURCHASE"
    ESCROW = "ESCROW"
    AUTOPAY = "AUTOPAY"


class PaymentStatus(enum.Enum):
    PENDING = "PENDING"
    REQUIRES_ACTION = "REQUIRES_ACTION"
    AUTHORIZED = "AUTHORIZED"
    SUCCEEDED = "SUCCEEDED"
    RELEASED = "RELEASED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    REVERTED = "REVERTED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    CANCELED = "CANCELED"
    DISPUTED = "DISPUTED"


def new_payment_id() -> str:
    return f"pay_{uuid.uuid4().hex}"


# Escrow statuses after which an order may be authorized again.
REUSABLE_ORDER_STATUSES = ("FAILED", "REVERTED", "EXPIRED", "CANCELED")
_LIVE_ESCROW = text(
    "kind = 'ESCROW' AND status NOT IN ("
    + ", ".join(f"'{s}'" for s in REUSABLE_ORDER_STATUSES)
    + ")"
)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_user_created", "user_id", "created_at", "id"),
        # One live escrow per order, whatever races: enforced by the database.
        Index(
            "uq_payments_live_order",
            "order_id",
            unique=True,
            sqlite_where=_LIVE_ESCROW,
            postgresql_where=_LIVE_ESCROW,
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_payment_id)
    user_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[PaymentKind] = mapped_column(
        Enum(PaymentKind, native_enum=False, length=32, validate_strings=True)
    )
    status: Mapped[PaymentStatus] = mapped_column(
        Enum(PaymentStatus, native_enum=False, length=32, validate_strings=True), index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    credits: Mapped[int | None] = mapped_column(BigInteger)
    package_id: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(500))

    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255))
    checkout_url: Mapped[str | None] = mapped_column(Text)
    # Where the customer finishes a payment that needs them (3-D Secure), and the secret
    # Stripe.js takes for the same; set while the payment is REQUIRES_ACTION.
    next_action_url: Mapped[str | None] = mapped_column(Text)
    client_secret: Mapped[str | None] = mapped_column(String(255))
    # Autopay: which autopay charged this payment.
    autopay_id: Mapped[str | None] = mapped_column(String(40), index=True)
    receipt_url: Mapped[str | None] = mapped_column(Text)

    # Escrow: the order, the runner who is paid on release, and what was captured and moved.
    order_id: Mapped[str | None] = mapped_column(String(255), index=True)
    runner_id: Mapped[str | None] = mapped_column(String(128))
    runner_account_id: Mapped[str | None] = mapped_column(String(255))
    captured_amount: Mapped[int | None] = mapped_column(BigInteger)
    platform_fee: Mapped[int | None] = mapped_column(BigInteger)
    transfer_id: Mapped[str | None] = mapped_column(String(255))
    transferred_amount: Mapped[int | None] = mapped_column(BigInteger)
    transfer_reversed_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    hold_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Money the customer's bank took back through lost disputes.
    dispute_lost_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # An operation claimed but not finished (release or revert); a retry finishes it.
    pending_operation: Mapped[str | None] = mapped_column(String(16))
    requested_capture: Mapped[int | None] = mapped_column(BigInteger)

    failure_code: Mapped[str | None] = mapped_column(String(100))
    decline_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class PaymentRecord(Protocol):
    """A payment as read for showing: an ORM `Payment`, or a Core row of the same columns."""

    @property
    def id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def kind(self) -> PaymentKind: ...
    @property
    def status(self) -> PaymentStatus: ...
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def refunded_amount(self) -> int: ...
    @property
    def credits(self) -> int | None: ...
    @property
    def package_id(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def stripe_checkout_session_id(self) -> str | None: ...
    @property
    def stripe_payment_intent_id(self) -> str | None: ...
    @property
    def receipt_url(self) -> str | None: ...
    @property
    def order_id(self) -> str | None: ...
    @property
    def runner_id(self) -> str | None: ...
    @property
    def captured_amount(self) -> int | None: ...
    @property
    def platform_fee(self) -> int | None: ...
    @property
    def transfer_id(self) -> str | None: ...
    @property
    def transferred_amount(self) -> int | None: ...
    @property
    def transfer_reversed_amount(self) -> int: ...
    @property
    def hold_expires_at(self) -> dt.datetime | None: ...
    @property
    def next_action_url(self) -> str | None: ...
    @property
    def client_secret(self) -> str | None: ...
    @property
    def autopay_id(self) -> str | None: ...
    @property
    def checkout_url(self) -> str | None: ...
    @property
    def failure_code(self) -> str | None: ...
    @property
    def decline_code(self) -> str | None: ...
    @property
    def failure_message(self) -> str | None: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def updated_at(self) -> dt.datetime: ...


SHOWN_COLUMNS = tuple(name for name, v in vars(PaymentRecord).items() if isinstance(v, property))


class FailureSource(enum.Enum):
    PAYMENT_ATTEMPT = "PAYMENT_ATTEMPT"  # a declined or failed charge attempt
    CHECKOUT_EXPIRED = "CHECKOUT_EXPIRED"  # the customer never paid
    ASYNC_PAYMENT = "ASYNC_PAYMENT"  # a delayed payment method failed after checkout
    REFUND = "REFUND"  # a refund that failed
    TRANSFER = "TRANSFER"  # Stripe refused the transfer to a runner
    TRANSFER_REVERSAL = "TRANSFER_REVERSAL"  # Stripe refused to take a runner's transfer back


class PaymentFailure(Base):
    """One failed attempt, kept with Stripe's codes; unique per (payment, source, reference)."""

    __tablename__ = "payment_failures"
    __table_args__ = (
        UniqueConstraint("payment_id", "source", "reference"),
        Index("ix_payment_failures_created", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    source: Mapped[FailureSource] = mapped_column(
        Enum(FailureSource, native_enum=False, length=32, validate_strings=True)
    )
    reference: Mapped[str] = mapped_column(String(255))
    code: Mapped[str | None] = mapped_column(String(100))
    decline_code: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
