"""Live updates for subscriptions, read from the outbox so other processes' changes show.

One watcher task per process (started with the first subscriber, stopped with the last)
follows the outbox: on PostgreSQL it `LISTEN`s to the channel the outbox notifies at commit
and reads what is new when woken; on SQLite it polls. It wakes the subscribers of each
payment an event concerns, and every subscriber now and then anyway (an event that committed
out of position order on PostgreSQL is then still seen). Subscribers re-read the payment, so
a missed wake-up costs latency, never a wrong state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from graphql_payments.db import Database
from graphql_payments.events import repository
from graphql_payments.events.outbox import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.25  # SQLite, or PostgreSQL while LISTEN is unavailable
LISTEN_POLL_INTERVAL = 5.0  # PostgreSQL: a safety net beside NOTIFY
WAKE_ALL_EVERY = 5.0


class PaymentFeed:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self._poke = asyncio.Event()

    @contextlib.asynccontextmanager
    async def watch(self, payment_id: str) -> AsyncIterator[asyncio.Event]:
        """An event set whenever `payment_id` may have changed (clear it after each wait)."""
        changed = asyncio.Event()
        self._waiters.setdefault(payment_id, set()).add(changed)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="payments-feed")
        try:
            yield changed
        finally:
            waiters = self._waiters.get(payment_id, set())
            waiters.discard(changed)
            if not waiters:
                self._waiters.pop(payment_id, None)
            if not self._waiters and self._task is not None:
                self._task.cancel()
                self._task = None

    def _wake(self, payment_id: str | None) -> None:
        for changed in self._waiters.get(payment_id or "", ()):
            changed.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for changed in waiters:
                changed.set()

    async def _run(self) -> None:
        async with self.db.reading() as session:
            last = await repository.last_position(session)
        async with contextlib.AsyncExitStack() as stack:
            interval = POLL_INTERVAL
            if self.db.dialect == "postgresql":
                try:
                    await stack.enter_async_context(self._listen())
                    interval = LISTEN_POLL_INTERVAL
                except Exception:
                    log.warning("LISTEN unavailable; polling the outbox", exc_info=True)
            loop = asyncio.get_running_loop()
            woke_all = loop.time()
            while True:
                try:
                    async with self.db.reading() as session:
                        rows = await repository.events_after(session, last)
                    for position, payment_id in rows:
                        last = max(last, position)
                        self._wake(payment_id)
                except Exception:
                    log.warning("reading the outbox for subscriptions failed", exc_info=True)
                if loop.time() - woke_all >= WAKE_ALL_EVERY:
                    self._wake_all()
                    woke_all = loop.time()
                self._poke.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poke.wait(), interval)

    @contextlib.asynccontextmanager
    async def _listen(self) -> AsyncIterator[None]:
        async with self.db.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection

            def notified(*_args: Any) -> None:
                self._poke.set()

            await driver.add_listener(NOTIFY_CHANNEL, notified)
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    await driver.remove_listener(NOTIFY_CHANNEL, notified)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
