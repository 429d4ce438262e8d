"""Background work of a running server, in every process at once.

Each job runs in its own loop at its own interval, so a slow one (a reconciliation waiting on
Stripe) never holds up another (webhook retries). Jobs are safe to run in many processes at
once: their claims and unique keys live in the database. A failing round is logged and the next
one runs anyway.

- webhook retries: every second, events waiting for a (re)try;
- event relay: every half second, outbox deliveries that are due (see `events.relay`);
- reconciliation: every `PAYMENTS_RECONCILE_INTERVAL` (see `operations.reconcile`);
- SQLite checkpoint: every second, the write-ahead log copied back into the database file on a
  worker thread (`Database.checkpoint`), off the event loop's thread where the one writer runs;
- purge: hourly, expired idempotency keys, processed webhook events older than
  `PAYMENTS_WEBHOOK_RETENTION_DAYS`, finished repair claims, and outbox events delivered
  everywhere more than `PAYMENTS_EVENTS_RETENTION_DAYS` ago (failed events, dead letters and
  the audit trail are kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from graphql_payments import idempotency
from graphql_payments.db import utcnow
from graphql_payments.operations import repository as operations
from graphql_payments.services import Services

log = logging.getLogger(__name__)

RETRY_INTERVAL = 1.0
RELAY_INTERVAL = 0.5
CHECKPOINT_INTERVAL = 1.0
PURGE_INTERVAL = 3600.0


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    interval: float
    run: Callable[[Services], Awaitable[object]]
    # Wait a random part of the interval before the first round, so processes started
    # together do not all ask Stripe at the same moment.
    spread: bool = False


async def purge(services: Services) -> int:
    """Delete what is no longer needed; how many rows went."""
    retention = dt.timedelta(days=services.settings.webhook_retention_days)
    async with services.db.transaction() as session:
        keys = await idempotency.purge_expired(session)
        claims = await operations.purge_claims(session, before=utcnow() - retention)
    events = await services.inbox.purge(older_than=retention)
    published = await services.relay.purge()
    if keys or events or claims or published:
        log.info(
            "purged %d idempotency keys, %d processed webhook events, %d repair claims, "
            "%d delivered outbox events",
            keys,
            events,
            claims,
            published,
        )
    return keys + events + claims + published


async def reconcile(services: Services) -> None:
    await services.reconciler.run()


def jobs(services: Services) -> list[Job]:
    return [
        Job("webhook-retries", RETRY_INTERVAL, lambda s: s.inbox.process_due()),
        Job("event-relay", RELAY_INTERVAL, lambda s: s.relay.drain()),
        Job("reconciliation", services.settings.reconcile_interval, reconcile, spread=True),
        Job("sqlite-checkpoint", CHECKPOINT_INTERVAL, lambda s: s.db.checkpoint()),
        Job("purge", PURGE_INTERVAL, purge),
    ]


async def _loop(services: Services, job: Job) -> None:
    if job.spread:
        await asyncio.sleep(random.uniform(0, job.interval / 4))
    while True:
        try:
            await job.run(services)
        except Exception:
            log.exception("background job %s failed; continuing", job.name)
        await asyncio.sleep(job.interval)


async def run(services: Services, extra: list[Job] | None = None) -> None:
    """Run every job until cancelled."""
    tasks = [
        asyncio.create_task(_loop(services, job), name=f"payments-{job.name}")
        for job in [*jobs(services), *(extra or [])]
    ]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
