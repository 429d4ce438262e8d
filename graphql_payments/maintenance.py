"""Background work of a running server: webhook retries and expiring idempotency keys."""

from __future__ import annotations

import asyncio
import logging
import time

from graphql_payments import idempotency
from graphql_payments.services import Services

log = logging.getLogger(__name__)

RETRY_INTERVAL = 1.0
PURGE_INTERVAL = 3600.0


async def purge_idempotency_keys(services: Services) -> int:
    async with services.db.transaction() as session:
        purged = await idempotency.purge_expired(session)
    if purged:
        log.info("purged %d idempotency keys older than %s", purged, idempotency.KEY_TTL)
    return purged


async def run(services: Services) -> None:
    """Run until cancelled; a failing round is logged and the next one runs anyway."""
    last_purge = 0.0
    while True:
        try:
            await services.inbox.process_due()
            if time.monotonic() - last_purge >= PURGE_INTERVAL:
                await purge_idempotency_keys(services)
                last_purge = time.monotonic()
        except Exception:
            log.exception("background round failed; continuing")
        await asyncio.sleep(RETRY_INTERVAL)
