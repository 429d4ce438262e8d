"""The relay: publishes the outbox, at least once, in order per subject, in every process.

Each round claims due deliveries in a short transaction (`repository.claim_due`), sends them
with no transaction open, and records the round's attempts in another short transaction. A delivery
that fails is retried after an exponential backoff (`PAYMENTS_EVENTS_RETRY_BASE` seconds, then
4x, 16x... capped at six hours) and dead-lettered after `PAYMENTS_EVENTS_MAX_ATTEMPTS`
attempts; a dead letter no longer holds back its subject's later events, and `redeliver`
queues it again. A process that dies mid-delivery loses nothing: its claim lapses after
its lease (twice `PAYMENTS_EVENTS_TIMEOUT`, plus 5 seconds: a send never takes longer) and
another round, in any process, sends the event again; consumers deduplicate on
the event id (`webhook-id`, the broker's message id).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from graphql_payments.config import Settings
from graphql_payments.db import Database, utcnow
from graphql_payments.events import repository
from graphql_payments.events.models import BROKER_SINK, DeliveryStatus
from graphql_payments.events.outbox import BROKER_INFO
from graphql_payments.events.sinks import BrokerSink, DeliveryFailed, WebhookSink, message_body

log = logging.getLogger(__name__)

BATCH = 50
MAX_DELAY = dt.timedelta(hours=6)


def backoff(attempts: int, base: float) -> dt.timedelta:
    """How long to wait after the `attempts`-th failed attempt."""
    seconds = base * 4 ** max(0, attempts - 1)
    return min(dt.timedelta(seconds=seconds), MAX_DELAY)


class Relay:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.webhooks = WebhookSink(
            timeout=settings.events_timeout, allow_private=settings.allow_private_webhooks
        )
        url = settings.broker_url
        self.broker = BrokerSink(url, timeout=settings.events_timeout) if url else None
        # Tell the outbox (in this process's sessions) to queue events for the broker.
        db.sessionmaker.configure(info={BROKER_INFO: self.broker is not None})
        # Longer than any send takes (each is bounded by the timeout), so a live claim never
        # lapses; a dead process's claim lapses this long after it was taken.
        self.lease = dt.timedelta(seconds=2 * settings.events_timeout + 5)

    async def run_once(self) -> int:
        """One round: claim, send and record; returns how many deliveries were attempted."""
        async with self.db.reading() as session:
            if not await repository.any_due(session, now=utcnow()):
                return 0
        async with self.db.transaction() as session:
            claimed = await repository.claim_due(
                session, now=utcnow(), lease=self.lease, limit=BATCH
            )
        if claimed:
            sent = await asyncio.gather(*(self._send(item) for item in claimed))
            await self._record(
                [(item, *result) for item, result in zip(claimed, sent, strict=True)]
            )
        return len(claimed)

    async def drain(self, *, rounds: int = 100) -> None:
        """Run rounds until nothing is due (the `event-relay` job of `maintenance`)."""
        for _ in range(rounds):
            if not await self.run_once():
                return

    async def _send(self, item: repository.Claimed) -> tuple[int | None, str | None]:
        """Send one event; (HTTP status, error), error None when the sink accepted it."""
        body = message_body(item.event_type, item.data)
        try:
            async with asyncio.timeout(1.5 * self.settings.events_timeout):
                return await self._send_to_sink(item, body)
        except TimeoutError:
            return None, f"no answer within {1.5 * self.settings.events_timeout:g} s"

    async def _send_to_sink(
        self, item: repository.Claimed, body: bytes
    ) -> tuple[int | None, str | None]:
        try:
            if item.sink == BROKER_SINK:
                if self.broker is None:
                    raise DeliveryFailed("no broker is configured in this process")
                await self.broker.send(
                    event_id=item.event_id,
                    event_type=item.event_type,
                    subject=item.subject,
                    body=body,
                )
                return None, None
            if item.url is None or item.secret is None:
                raise DeliveryFailed("the endpoint no longer exists")
            status_code = await self.webhooks.send(
                url=item.url,
                secret=item.secret,
                event_id=item.event_id,
                event_type=item.event_type,
                body=body,
            )
            return status_code, None
        except DeliveryFailed as exc:
            return exc.status_code, str(exc)
        except Exception as exc:  # a bug in a sink must not stop the relay
            log.exception("delivery %s failed unexpectedly", item.delivery_id)
            return None, f"{type(exc).__name__}: {exc}"

    async def _record(
        self, outcomes: list[tuple[repository.Claimed, int | None, str | None]]
    ) -> None:
        """Record a round's attempts in one short transaction."""
        now = utcnow()
        async with self.db.transaction() as session:
            for item, status_code, error in outcomes:
                retry_at = now + backoff(item.attempts + 1, self.settings.events_retry_base)
                status = await repository.finish_attempt(
                    session,
                    item,
                    now=now,
                    delivered=error is None,
                    status_code=status_code,
                    error=error,
                    max_attempts=self.settings.events_max_attempts,
                    retry_at=retry_at,
                )
                if error is None:
                    continue
                level = logging.ERROR if status is DeliveryStatus.DEAD else logging.WARNING
                log.log(
                    level,
                    "event %s (%s) to %s failed (attempt %d)%s: %s",
                    item.event_id,
                    item.event_type,
                    item.sink,
                    item.attempts + 1,
                    ", dead-lettered" if status is DeliveryStatus.DEAD else "",
                    error,
                )

    async def purge(self) -> int:
        """Forget events delivered everywhere more than `PAYMENTS_EVENTS_RETENTION_DAYS` ago."""
        before = utcnow() - dt.timedelta(days=self.settings.events_retention_days)
        async with self.db.transaction() as session:
            purged = await repository.purge_settled(session, before=before)
        if purged:
            log.info("purged %d delivered events older than %s", purged, before.isoformat())
        return purged

    async def aclose(self) -> None:
        await self.webhooks.aclose()
        if self.broker is not None:
            await self.broker.aclose()
