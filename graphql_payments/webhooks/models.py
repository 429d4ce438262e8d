"""The `webhook_events` table: every verified Stripe event, stored once by its id."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from graphql_payments.db import Base, UTCDateTime, utcnow


class EventStatus(enum.Enum):
    PENDING = "PENDING"  # stored, not yet processed (or waiting for a retry)
    HANDLED = "HANDLED"  # processed; our records reflect it
    IGNORED = "IGNORED"  # not for us: an object we did not create or a type we do not handle
    FAILED = "FAILED"  # retries exhausted; `last_error` says why


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_handled_at", "handled_at"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    object_id: Mapped[str | None] = mapped_column(String(255), index=True)
    livemode: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[EventStatus] = mapped_column(
        Enum(EventStatus, native_enum=False, length=16, validate_strings=True), index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    stripe_created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
