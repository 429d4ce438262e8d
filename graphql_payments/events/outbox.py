"""Append an event to the outbox, inside the caller's transaction.

`append` takes a synchronous `Session` because it also runs inside the flush hook of
`recorder`; async code calls it through `AsyncSession.run_sync` (`record`). With the event it
writes one delivery per sink that wants it (each webhook endpoint subscribed to the
event type, and the broker when one is configured), so the set of deliveries commits or rolls
back with the change. On PostgreSQL it also sends a `NOTIFY`, which is delivered at commit and
wakes the subscription feed of every server process.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from graphql_payments.db import execute_sync, per_dialect, utcnow
from graphql_payments.events.catalogue import EventType
from graphql_payments.events.models import (
    BROKER_SINK,
    DeliveryStatus,
    EventDelivery,
    EventSequence,
    OutboxEvent,
    WebhookEndpoint,
    new_event_id,
)

NOTIFY_CHANNEL = "payments_events"
# `session.info` key: whether this server publishes to a message broker.
BROKER_INFO = "events_broker"
# `session.info` key: the webhook endpoints and the event types each wants.
ENDPOINTS_INFO = "events_endpoints"


def timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@per_dialect
def _next_sequence(insert: Any) -> Any:
    upsert = insert(EventSequence).values(subject=bindparam("subject"), last=1)
    return upsert.on_conflict_do_update(
        index_elements=["subject"], set_={"last": EventSequence.last + 1}
    ).returning(EventSequence.last)


_EVENT = insert(OutboxEvent).returning(OutboxEvent.position)
_ENDPOINTS = select(WebhookEndpoint.id, WebhookEndpoint.events)
_DELIVERY = insert(EventDelivery)
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def append(
    session: Session,
    kind: EventType,
    *,
    payment_id: str | None,
    user_id: str | None,
    fields: dict[str, Any],
) -> str:
    """Write one event and its deliveries; returns the event id."""
    subject = payment_id or f"user:{user_id}"
    sequence = int(
        execute_sync(session, _next_sequence(session), {"subject": subject}).scalar_one()
    )
    now = utcnow()
    event_id = new_event_id()
    data = {
        "eventId": event_id,
        "sequence": sequence,
        "subject": subject,
        "paymentId": payment_id,
        "userId": user_id,
        "occurredAt": timestamp(now),
        **fields,
    }
    row = {
        "id": event_id,
        "type": kind.value,
        "subject": subject,
        "sequence": sequence,
        "payment_id": payment_id,
        "user_id": user_id,
        "data": data,
        "created_at": now,
    }
    position = execute_sync(session, _EVENT, row).scalar_one()
    connection = session.connection()
    # Read once per session, which is one transaction here (one that changes endpoints
    # announces nothing).
    endpoints = session.info.get(ENDPOINTS_INFO)
    if endpoints is None:
        endpoints = session.info[ENDPOINTS_INFO] = connection.execute(_ENDPOINTS).all()
    sinks: list[tuple[str, str | None]] = [
        (f"webhook:{eid}", eid) for eid, wanted in endpoints if not wanted or kind.value in wanted
    ]
    if session.info.get(BROKER_INFO):
        sinks.append((BROKER_SINK, None))
    if sinks:
        connection.execute(
            _DELIVERY,
            [
                {
                    "event_position": position,
                    "sink": sink,
                    "endpoint_id": endpoint_id,
                    "subject": subject,
                    "sequence": sequence,
                    "status": DeliveryStatus.PENDING,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for sink, endpoint_id in sinks
            ],
        )
    if session.get_bind().dialect.name == "postgresql":
        connection.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL, "payload": payment_id or ""})
    return event_id


async def record(
    session: AsyncSession,
    kind: EventType,
    *,
    payment_id: str | None,
    user_id: str | None,
    fields: dict[str, Any],
) -> str:
    """`append` from async code (the ledger, and flows that are not a payment's status)."""
    return await session.run_sync(
        lambda sync: append(sync, kind, payment_id=payment_id, user_id=user_id, fields=fields)
    )
