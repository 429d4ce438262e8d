"""The outbox and where its events go.

`outbox_events` is written in the same transaction as the change an event announces (see
`recorder`), so an event exists if and only if its change committed. Each event gets a
`sequence` per subject (the payment, or `user:<id>` for events that concern only a user) from
`event_sequences`, whose row lock orders concurrent writers. One `event_deliveries` row per
event and sink (each webhook endpoint, the broker) is created with the event and tracks its
attempts: the relay claims due rows, delivers them in sequence order per subject, and
dead-letters a row after a bounded number of attempts.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
import uuid

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from graphql_payments.db import Base, UTCDateTime, utcnow

BROKER_SINK = "broker"


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def new_endpoint_id() -> str:
    return f"we_{uuid.uuid4().hex}"


def new_delivery_id() -> str:
    return f"dlv_{uuid.uuid4().hex}"


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        UniqueConstraint("subject", "sequence"),
        Index("ix_outbox_events_payment", "payment_id", "sequence"),
    )

    # `position` orders all events; `id` is the stable id consumers deduplicate on.
    position: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(40), unique=True, default=new_event_id)
    type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(160))
    sequence: Mapped[int] = mapped_column(Integer)
    payment_id: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(128), index=True)
    data: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventSequence(Base):
    """The last sequence number given to a subject's events."""

    __tablename__ = "event_sequences"

    subject: Mapped[str] = mapped_column(String(160), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_endpoint_id)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(500))
    # Event names this endpoint wants; empty means all.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class DeliveryStatus(enum.Enum):
    PENDING = "PENDING"  # waiting for its turn or for its next attempt
    DELIVERED = "DELIVERED"  # the sink accepted it
    DEAD = "DEAD"  # dead-lettered: every attempt failed (see `redeliver`)
    CANCELED = "CANCELED"  # its endpoint was deleted before it was delivered


class EventDelivery(Base):
    __tablename__ = "event_deliveries"
    __table_args__ = (
        UniqueConstraint("event_position", "sink"),
        Index("ix_event_deliveries_due", "status", "next_attempt_at"),
        Index("ix_event_deliveries_order", "sink", "subject", "sequence"),
        Index("ix_event_deliveries_endpoint", "endpoint_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_delivery_id)
    event_position: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("outbox_events.position")
    )
    # `webhook:<endpoint id>` or `broker`.
    sink: Mapped[str] = mapped_column(String(64))
    endpoint_id: Mapped[str | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="SET NULL")
    )
    # Copied from the event, so the order check needs no join.
    subject: Mapped[str] = mapped_column(String(160))
    sequence: Mapped[int] = mapped_column(Integer)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=16, validate_strings=True)
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A process working on this row holds it until then; a crashed one's claim lapses.
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
