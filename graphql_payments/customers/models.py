"""The `customers` table (our user id to its Stripe customer) and `payment_methods` (our copy
of each customer's saved cards, kept current from Stripe's webhooks)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from graphql_payments.db import Base, UTCDateTime, utcnow


class Customer(Base):
    __tablename__ = "customers"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedPaymentMethod(Base):
    """A card saved to a user's Stripe customer. A detached card keeps its row with
    `detached_at` set, so a late `payment_method.attached` cannot bring it back."""

    __tablename__ = "payment_methods"
    __table_args__ = (Index("ix_payment_methods_user", "user_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Stripe's pm_...
    user_id: Mapped[str] = mapped_column(String(128))
    stripe_customer_id: Mapped[str] = mapped_column(String(255), index=True)
    type: Mapped[str] = mapped_column(String(32), default="card")
    brand: Mapped[str | None] = mapped_column(String(32))
    last4: Mapped[str | None] = mapped_column(String(4))
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    detached_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
