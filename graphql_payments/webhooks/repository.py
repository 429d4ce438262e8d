"""SQL for the webhook inbox: store once, claim for processing, record the outcome."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.db import execute_core, per_dialect
from graphql_payments.webhooks.models import EventStatus, WebhookEvent


@per_dialect
def _store(insert: Any) -> Any:
    return insert(WebhookEvent).on_conflict_do_nothing(index_elements=["id"])


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
    lease: dt.timedelta,
) -> bool:
    """Insert the event unless it is stored already; True when this call stored it.

    A stored event is claimed by the caller for `lease` (its first attempt), as `claim` would.
    """
    row = {
        "id": event_id,
        "type": type,
        "object_id": object_id,
        "livemode": livemode,
        "payload": payload,
        "status": EventStatus.PENDING,
        "attempts": 1,
        "stripe_created_at": stripe_created_at,
        "received_at": now,
        "next_attempt_at": now,
        "locked_until": now + lease,
    }
    result = await execute_core(session, _store(session), row)
    return bool(result.rowcount)


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


_FINISH = (
    update(WebhookEvent)
    .where(WebhookEvent.id == bindparam("event_id"))
    .values(
        status=bindparam("new_status"),
        locked_until=None,
        last_error=bindparam("error"),
        next_attempt_at=bindparam("retry_at"),
        handled_at=bindparam("done_at"),
    )
)


async def finish(
    session: AsyncSession,
    event_id: str,
    *,
    status: EventStatus,
    now: dt.datetime,
    error: str | None = None,
    next_attempt_at: dt.datetime | None = None,
) -> None:
    """Record an attempt's outcome; a processed event (HANDLED or IGNORED) gets `handled_at`."""
    done = status in (EventStatus.HANDLED, EventStatus.IGNORED)
    params = {
        "event_id": event_id,
        "new_status": status,
        "error": error,
        "retry_at": next_attempt_at,
        "done_at": now if done else None,
    }
    await execute_core(session, _FINISH, params)


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


async def reopen(session: AsyncSession, event_id: str, *, now: dt.datetime) -> bool:
    """Make a stored event due again with fresh attempts (a replay); False if there is none."""
    result = await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id)
        .values(
            status=EventStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            locked_until=None,
            handled_at=None,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def failed_ids(session: AsyncSession, *, limit: int) -> list[str]:
    query = (
        select(WebhookEvent.id)
        .where(WebhookEvent.status == EventStatus.FAILED)
        .order_by(WebhookEvent.received_at)
        .limit(limit)
    )
    return [str(row) for row in (await session.scalars(query)).all()]


async def failed_page(
    session: AsyncSession, *, first: int, after: tuple[dt.datetime, str] | None
) -> tuple[list[WebhookEvent], bool, int]:
    """Events that exhausted their retries, newest first, keyset-paged by (received_at, id)."""
    failed = WebhookEvent.status == EventStatus.FAILED
    query = select(WebhookEvent).where(failed)
    if after is not None:
        received, event_id = after
        query = query.where(
            or_(
                WebhookEvent.received_at < received,
                and_(WebhookEvent.received_at == received, WebhookEvent.id < event_id),
            )
        )
    query = query.order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc()).limit(first + 1)
    rows = list((await session.scalars(query)).all())
    total = await session.scalar(select(func.count()).select_from(WebhookEvent).where(failed))
    return rows[:first], len(rows) > first, int(total or 0)


async def backlog(session: AsyncSession) -> tuple[int, dt.datetime | None, int]:
    """(events waiting to be processed, when the oldest of them arrived, events FAILED)."""
    waiting = WebhookEvent.status == EventStatus.PENDING
    row = (
        await session.execute(
            select(func.count(), func.min(WebhookEvent.received_at)).where(waiting)
        )
    ).one()
    failed = await session.scalar(
        select(func.count())
        .select_from(WebhookEvent)
        .where(WebhookEvent.status == EventStatus.FAILED)
    )
    oldest = row[1]
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return int(row[0] or 0), oldest, int(failed or 0)


async def purge_processed(session: AsyncSession, *, before: dt.datetime) -> int:
    """Delete HANDLED and IGNORED events processed before `before`; FAILED ones are kept."""
    result = await session.execute(
        delete(WebhookEvent).where(
            WebhookEvent.status.in_((EventStatus.HANDLED, EventStatus.IGNORED)),
            WebhookEvent.handled_at < before,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def newest_created(session: AsyncSession) -> dt.datetime | None:
    value = await session.scalar(select(func.max(WebhookEvent.stripe_created_at)))
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value
