"""The webhook inbox: verify, store once, process with bounded retries.

`receive` verifies the signature on the raw body and stores the event under its Stripe id (a
duplicate delivery stores nothing; one of an event this process stored is answered from memory,
without a write transaction), already claimed with a lease by the delivery that stored
it: that one applies it right after answering (`process_received`), with no second write to
claim it. `process` claims a stored event with a lease, so two workers or two server processes
never apply it at once, runs its handler and records the outcome; `process_due` picks up events
that wait for a retry, or whose lease ran out because their process stopped. Handlers are
idempotent besides, so an event applied twice changes nothing the second time.

Stores and outcomes are written through `Database.together`: the events of a burst commit
together. An event whose handling only writes our database (a payment's Checkout Session) is
applied and its outcome recorded in one unit of that kind, so it is never applied without its
outcome, and a burst of them commits once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments import metrics
from graphql_payments.config import Settings
from graphql_payments.db import Database, utcnow
from graphql_payments.errors import WebhookSignatureInvalid
from graphql_payments.gateway import verify_webhook
from graphql_payments.webhooks import repository
from graphql_payments.webhooks.handlers import EventHandlers, NotOurs, RetryLater
from graphql_payments.webhooks.models import EventStatus, WebhookEvent

log = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=60)
MAX_BACKOFF = dt.timedelta(minutes=10)
# Event ids this process knows are stored, the newest kept: Stripe delivers an event again when
# our answer is slow or lost, usually within minutes.
REMEMBERED = 10_000


def _storable(value: object, length: int) -> bool:
    return isinstance(value, str) and len(value) <= length and "\x00" not in value


def _clean(value: str, length: int) -> str:
    return value.replace("\x00", "")[:length]


def _moment(created: object) -> dt.datetime | None:
    """Stripe's `created` (seconds since the epoch) when it is a moment we can store."""
    if not isinstance(created, int) or isinstance(created, bool):
        return None
    try:
        moment = dt.datetime.fromtimestamp(created, dt.UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return moment if 1970 <= moment.year <= 9999 else None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt at an event ended, as `repository.finish` records it."""

    status: EventStatus
    error: str | None = None
    retry_at: dt.datetime | None = None


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try: 1 s, 2 s, 4 s, ... capped at ten minutes."""
    return min(dt.timedelta(seconds=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


class WebhookInbox:
    def __init__(self, db: Database, settings: Settings, handlers: EventHandlers) -> None:
        self.db = db
        self.settings = settings
        self.handlers = handlers
        self._stored: dict[str, None] = {}  # insertion-ordered: the oldest goes first

    async def receive(
        self, payload: bytes, signature: str | None
    ) -> tuple[str, bool, dict[str, Any] | None]:
        """Verify and store one delivery: (event id, whether this delivery stored it, the event
        when it is to be processed now).

        A stored event is claimed for this process for `LEASE`: pass it to `process_received`.
        """
        event = verify_webhook(
            payload,
            signature,
            self.settings.webhook_secrets,
            tolerance=self.settings.webhook_tolerance,
        )
        event_id = event["id"]
        if not _storable(event_id, 255):
            raise WebhookSignatureInvalid(
                "The event id is longer than 255 characters or holds NUL."
            )
        stored, ready = await self.store_event(event, payload.decode("utf-8"))
        return event_id, stored, (event if ready else None)

    async def store_event(
        self, event: dict[str, Any], payload: str | None = None
    ) -> tuple[bool, bool]:
        """Store a verified event once by its id: (whether this call stored it, whether it is
        to be processed now, claimed by this call for `LEASE`). An event whose fields do not fit
        is stored FAILED with the reason."""
        event_id = event["id"]
        if event_id in self._stored:
            return False, False  # a repeated delivery of an event stored here: no write at all
        obj = event["data"]["object"]
        event_type, object_id = event["type"], obj.get("id")
        problems = []
        if not _storable(event_type, 100):
            problems.append("its type is longer than 100 characters or holds NUL")
            event_type = _clean(event_type, 100)
        if object_id is not None and not (isinstance(object_id, str) and _storable(object_id, 255)):
            problems.append("its object id is not text of at most 255 characters")
            object_id = None
        now = utcnow()

        async def store(session: AsyncSession) -> bool:
            stored = await repository.store(
                session,
                event_id=event_id,
                type=event_type,
                object_id=object_id,
                livemode=bool(event.get("livemode")),
                payload=payload if payload is not None else json.dumps(event),
                stripe_created_at=_moment(event.get("created")),
                now=now,
                lease=LEASE,
            )
            if stored and problems:
                await repository.finish(
                    session,
                    event_id,
                    status=EventStatus.FAILED,
                    now=now,
                    error="Not processed: " + "; ".join(problems) + ".",
                )
            return stored

        stored = await self.db.together(store)
        if stored and problems:
            log.error("webhook %s cannot be processed: %s", event_id, "; ".join(problems))
        self._remember(event_id)
        return stored, stored and not problems

    def _remember(self, event_id: str) -> None:
        """Keep the id of an event known to be stored (committed), the newest `REMEMBERED`."""
        self._stored[event_id] = None
        if len(self._stored) > REMEMBERED:
            del self._stored[next(iter(self._stored))]

    async def ingest(self, event: dict[str, Any]) -> EventStatus | None:
        """Feed an event fetched from Stripe's API (no signature: our key fetched it) into the
        inbox with the same once-only guarantees as a delivery; None when it was stored already
        or is of a type nothing handles."""
        if event.get("type") not in self.handlers.by_type:
            return None
        stored, ready = await self.store_event(event)
        if not stored:
            return None
        return await self.process_received(event) if ready else EventStatus.FAILED

    async def replay(self, event_id: str) -> EventStatus | None:
        """Process a stored event again from the start (its handlers are idempotent)."""
        async with self.db.transaction() as session:
            if not await repository.reopen(session, event_id, now=utcnow()):
                return None
        return await self.process(event_id)

    async def replay_failed(self, *, limit: int = 1000) -> dict[str, EventStatus | None]:
        async with self.db.reading() as session:
            ids = await repository.failed_ids(session, limit=limit)
        return {event_id: await self.replay(event_id) for event_id in ids}

    async def failed(
        self, *, first: int, after: tuple[dt.datetime, str] | None
    ) -> tuple[list[WebhookEvent], bool, int]:
        """Events that exhausted their retries, newest first: (page, has next, total)."""
        async with self.db.reading() as session:
            return await repository.failed_page(session, first=min(first, 100), after=after)

    async def purge(self, *, older_than: dt.timedelta) -> int:
        async with self.db.transaction() as session:
            return await repository.purge_processed(session, before=utcnow() - older_than)

    async def process(self, event_id: str, *, now: dt.datetime | None = None) -> EventStatus | None:
        """Apply one stored event if it is due and free; its status afterwards."""
        now = now or utcnow()
        async with self.db.transaction() as session:
            claimed = await repository.claim(session, event_id, now=now, lease=LEASE)
            if claimed is None:
                current = await repository.get(session, event_id)
                return current.status if current else None
            attempts, payload = claimed.attempts, claimed.payload
        return await self._apply(event_id, json.loads(payload), attempts)

    async def process_received(self, event: dict[str, Any]) -> EventStatus:
        """Apply an event `receive` just stored (and claimed: its first attempt)."""
        return await self._apply(event["id"], event, attempts=1)

    async def _apply(self, event_id: str, event: dict[str, Any], attempts: int) -> EventStatus:
        """Run the event's handler and record the outcome. An event whose handling only writes
        our database is applied and its outcome recorded in one transaction, shared with the
        other events of the moment (`Database.together`)."""
        in_session = self.handlers.in_session(event)
        recorded = False
        if in_session is not None:

            async def apply(session: AsyncSession) -> Outcome:
                try:
                    await in_session(session)
                except (NotOurs, RetryLater) as exc:  # raised before any change
                    done = self._outcome(event_id, event, attempts, exc)
                else:
                    done = Outcome(EventStatus.HANDLED)
                await self._finish(session, event_id, done)
                return done

            try:
                outcome = await self.db.together(apply)
                recorded = True
            except Exception as exc:  # it failed alone as well: nothing of it was written
                outcome = self._outcome(event_id, event, attempts, exc)
        else:
            try:
                await self.handlers.handle(event)
                outcome = Outcome(EventStatus.HANDLED)
            except Exception as exc:
                outcome = self._outcome(event_id, event, attempts, exc)
        if not recorded:
            await self.db.together(lambda session: self._finish(session, event_id, outcome))
        metrics.WEBHOOK_EVENTS.labels(outcome.status.value).inc()
        return outcome.status

    def _outcome(
        self, event_id: str, event: dict[str, Any], attempts: int, exc: Exception
    ) -> Outcome:
        """What a handler's exception means: IGNORED (not ours), a retry later (PENDING), or
        FAILED once the attempts are used up."""
        if isinstance(exc, NotOurs):
            return Outcome(EventStatus.IGNORED, str(exc))
        error = str(exc) if isinstance(exc, RetryLater) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, RetryLater):
            log.error("webhook %s (%s) failed", event_id, event.get("type"), exc_info=exc)
        if attempts >= self.settings.webhook_max_attempts:
            log.error("webhook %s gave up after %d attempts: %s", event_id, attempts, error)
            return Outcome(EventStatus.FAILED, error)
        return Outcome(EventStatus.PENDING, error, utcnow() + backoff(attempts))

    @staticmethod
    async def _finish(session: AsyncSession, event_id: str, outcome: Outcome) -> None:
        await repository.finish(
            session,
            event_id,
            status=outcome.status,
            now=utcnow(),
            error=outcome.error,
            next_attempt_at=outcome.retry_at,
        )

    async def process_due(self, *, now: dt.datetime | None = None, limit: int = 100) -> int:
        """Process every event waiting for a (re)try; how many were taken."""
        now = now or utcnow()
        async with self.db.reading() as session:
            ids = await repository.due(session, now=now, limit=limit)
        for event_id in ids:
            await self.process(event_id, now=now)
        return len(ids)
