"""SQL for the webhook inbox: store once, claim for processing, record the outcome."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.db import insert_for
from graphql_payments.webhooks.models import EventStatus, WebhookEvent


async def store(
    session: AsyncSession,
    *,
    event_id: str,
    type: str,
    object_id: str | None,
    livemode: bool,
    payload: str,
    stripe_created_at: dt.datetime | None,
    now: dt.datetime,
) -> bool:
    """Insert the event unless it is stored already; True when this call stored it."""
    result = await session.execute(
        insert_for(session, WebhookEvent)
        .values(
            id=event_id,
            type=type,
            object_id=object_id,
            livemode=livemode,
            payload=payload,
            status=EventStatus.PENDING,
            attempts=0,
            stripe_created_at=stripe_created_at,
            received_at=now,
            next_attempt_at=now,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def claim(
    session: AsyncSession, event_id: str, *, now: dt.datetime, lease: dt.timedelta
) -> WebhookEvent | None:
    """Take the event for processing unless it is done or another worker holds it."""
    result = await session.execute(
        update(WebhookEvent)
        .where(
            WebhookEvent.id == event_id,
            WebhookEvent.status == EventStatus.PENDING,
            or_(WebhookEvent.locked_until.is_(None), WebhookEvent.locked_until < now),
        )
        .values(locked_until=now + lease, attempts=WebhookEvent.attempts + 1)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return await session.get(WebhookEvent, event_id, populate_existing=True)


async def finish(
    session: AsyncSession,
    event_id: str,
    *,
    status: EventStatus,
    now: dt.datetime,
    error: str | None = None,
    next_attempt_at: dt.datetime | None = None,
) -> None:
    values: dict[str, object] = {"status": status, "locked_until": None, "last_error": error}
    values["next_attempt_at"] = next_attempt_at
    if status in (EventStatus.HANDLED, EventStatus.IGNORED):
        values["handled_at"] = now
    await session.execute(update(WebhookEvent).where(WebhookEvent.id == event_id).values(values))


async def due(session: AsyncSession, *, now: dt.datetime, limit: int) -> list[str]:
    query = (
        select(WebhookEvent.id)
        .where(
            WebhookEvent.status == EventStatus.PENDING,
            or_(WebhookEvent.next_attempt_at.is_(None), WebhookEvent.next_attempt_at <= now),
            or_(WebhookEvent.locked_until.is_(None), WebhookEvent.locked_until < now),
        )
        .order_by(WebhookEvent.received_at)
        .limit(limit)
    )
    return [str(row[0]) for row in (await session.execute(query)).all()]


async def get(session: AsyncSession, event_id: str) -> WebhookEvent | None:
    return await session.get(WebhookEvent, event_id)
