"""SQL for the outbox: claiming due deliveries, recording attempts, endpoints and the log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from graphql_payments.events.models import (
    DeliveryStatus,
    EventDelivery,
    OutboxEvent,
    WebhookEndpoint,
)

PENDING = DeliveryStatus.PENDING


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery claimed by this process until `claimed_until`, with what it carries."""

    delivery_id: str
    sink: str
    attempts: int
    claimed_until: dt.datetime
    event_id: str
    event_type: str
    subject: str
    data: dict[str, object]
    url: str | None
    secret: str | None


def _due(now: dt.datetime) -> list[Any]:
    return [
        EventDelivery.status == PENDING,
        EventDelivery.next_attempt_at <= now,
        or_(EventDelivery.claimed_until.is_(None), EventDelivery.claimed_until <= now),
    ]


async def any_due(session: AsyncSession, *, now: dt.datetime) -> bool:
    """Whether a delivery may be due (a read: an idle relay takes no write lock)."""
    query = select(EventDelivery.id).where(*_due(now)).limit(1)
    return (await session.execute(query)).first() is not None


async def claim_due(
    session: AsyncSession, *, now: dt.datetime, lease: dt.timedelta, limit: int
) -> list[Claimed]:
    """Claim deliveries that are due and first in line for their sink and subject.

    A delivery waits while an earlier one (by sequence) of the same subject to the same sink
    is still pending, so each consumer sees a payment's events in order. On PostgreSQL the
    rows are locked `FOR UPDATE SKIP LOCKED`, so processes claiming at once take different
    rows; SQLite runs one writer at a time.
    """
    earlier = aliased(EventDelivery)
    blocked = exists().where(
        earlier.sink == EventDelivery.sink,
        earlier.subject == EventDelivery.subject,
        earlier.sequence < EventDelivery.sequence,
        earlier.status == PENDING,
    )
    query = (
        select(EventDelivery)
        .where(*_due(now), ~blocked)
        .order_by(EventDelivery.event_position)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=EventDelivery)
    deliveries = list((await session.scalars(query)).all())
    if not deliveries:
        return []
    until = now + lease
    for delivery in deliveries:
        delivery.claimed_until = until
    await session.flush()
    positions = {d.event_position for d in deliveries}
    events = {
        e.position: e
        for e in await session.scalars(
            select(OutboxEvent).where(OutboxEvent.position.in_(positions))
        )
    }
    endpoint_ids = {d.endpoint_id for d in deliveries if d.endpoint_id}
    endpoints = {
        e.id: e
        for e in await session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids))
        )
    }
    out = []
    for delivery in deliveries:
        event = events[delivery.event_position]
        endpoint = endpoints.get(delivery.endpoint_id or "")
        out.append(
            Claimed(
                delivery_id=delivery.id,
                sink=delivery.sink,
                attempts=delivery.attempts,
                claimed_until=until,
                event_id=event.id,
                event_type=event.type,
                subject=event.subject,
                data=event.data,
                url=endpoint.url if endpoint else None,
                secret=endpoint.secret if endpoint else None,
            )
        )
    return out


async def finish_attempt(
    session: AsyncSession,
    claimed: Claimed,
    *,
    now: dt.datetime,
    delivered: bool,
    status_code: int | None,
    error: str | None,
    max_attempts: int,
    retry_at: dt.datetime,
) -> DeliveryStatus | None:
    """Record an attempt on a delivery this process still holds; None if it lost the claim."""
    attempts = claimed.attempts + 1
    if delivered:
        status = DeliveryStatus.DELIVERED
    elif attempts >= max_attempts:
        status = DeliveryStatus.DEAD
    else:
        status = PENDING
    result = await session.execute(
        update(EventDelivery)
        .where(
            EventDelivery.id == claimed.delivery_id,
            EventDelivery.status == PENDING,
            EventDelivery.claimed_until == claimed.claimed_until,
        )
        .values(
            status=status,
            attempts=attempts,
            claimed_until=None,
            last_attempt_at=now,
            last_status_code=status_code,
            last_error=error[:2000] if error else None,
            delivered_at=now if delivered else None,
            next_attempt_at=retry_at,
        )
    )
    return status if result.rowcount else None  # type: ignore[attr-defined]


async def redeliver(session: AsyncSession, delivery_id: str, *, now: dt.datetime) -> bool:
    """Queue a delivery again, whatever became of it (a dead letter, or one to send again)."""
    result = await session.execute(
        update(EventDelivery)
        .where(EventDelivery.id == delivery_id, EventDelivery.status != DeliveryStatus.CANCELED)
        .values(status=PENDING, attempts=0, next_attempt_at=now, claimed_until=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def get_delivery(session: AsyncSession, delivery_id: str) -> EventDelivery | None:
    return await session.get(EventDelivery, delivery_id)


async def deliveries(
    session: AsyncSession,
    *,
    endpoint_id: str | None,
    status: DeliveryStatus | None,
    first: int,
    after: tuple[dt.datetime, str] | None,
) -> tuple[list[tuple[EventDelivery, OutboxEvent]], bool, int]:
    """Deliveries newest first, with their events (an endpoint's, or every sink's)."""
    conditions = []
    if endpoint_id is not None:
        conditions.append(EventDelivery.endpoint_id == endpoint_id)
    if status is not None:
        conditions.append(EventDelivery.status == status)
    total = int(
        (
            await session.execute(
                select(func.count()).select_from(EventDelivery).where(*conditions)
            )
        ).scalar_one()
    )
    if after is not None:
        created, delivery_id = after
        conditions.append(
            or_(
                EventDelivery.created_at < created,
                and_(EventDelivery.created_at == created, EventDelivery.id < delivery_id),
            )
        )
    query = (
        select(EventDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.position == EventDelivery.event_position)
        .where(*conditions)
        .order_by(EventDelivery.created_at.desc(), EventDelivery.id.desc())
        .limit(first + 1)
    )
    rows = [(d, e) for d, e in (await session.execute(query)).all()]
    return rows[:first], len(rows) > first, total


async def add_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    session.add(endpoint)
    await session.flush()
    return endpoint


async def get_endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint | None:
    return await session.get(WebhookEndpoint, endpoint_id)


async def endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    return list((await session.scalars(query)).all())


async def delete_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """Cancel what it still had to receive, keep the log, and remove the endpoint."""
    await session.execute(
        update(EventDelivery)
        .where(EventDelivery.endpoint_id == endpoint.id, EventDelivery.status == PENDING)
        .values(status=DeliveryStatus.CANCELED, claimed_until=None)
    )
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))


async def purge_settled(session: AsyncSession, *, before: dt.datetime) -> int:
    """Delete events older than `before` with nothing left to deliver (no PENDING or DEAD
    delivery), and their deliveries; the sequence counters stay, so numbering goes on."""
    unsettled = exists().where(
        EventDelivery.event_position == OutboxEvent.position,
        EventDelivery.status.in_((PENDING, DeliveryStatus.DEAD)),
    )
    old = select(OutboxEvent.position).where(OutboxEvent.created_at < before, ~unsettled)
    positions = [int(p) for p in (await session.scalars(old.limit(10_000))).all()]
    if not positions:
        return 0
    await session.execute(delete(EventDelivery).where(EventDelivery.event_position.in_(positions)))
    await session.execute(delete(OutboxEvent).where(OutboxEvent.position.in_(positions)))
    return len(positions)


async def events_after(
    session: AsyncSession, position: int, *, limit: int = 500
) -> list[tuple[int, str | None]]:
    """(position, payment id) of events after `position`, oldest first."""
    query = (
        select(OutboxEvent.position, OutboxEvent.payment_id)
        .where(OutboxEvent.position > position)
        .order_by(OutboxEvent.position)
        .limit(limit)
    )
    return [(int(p), pid) for p, pid in (await session.execute(query)).all()]


async def last_position(session: AsyncSession) -> int:
    query = select(func.coalesce(func.max(OutboxEvent.position), 0))
    return int((await session.execute(query)).scalar_one())
