"""The scheduler loop every server process runs: one autopay sweep every
`PAYMENTS_SCHEDULER_INTERVAL` seconds. Processes need no coordination: each period's claim is a
unique row, so sweeps running at the same moment charge a period once."""

from __future__ import annotations

import asyncio
import logging

from graphql_payments.autopay.service import AutopayService

log = logging.getLogger(__name__)


async def run(autopay: AutopayService, *, interval: float) -> None:
    """Sweep until cancelled; a failing sweep is logged and the next one runs anyway."""
    while True:
        try:
            report = await autopay.sweep()
            if report.charged:
                log.info("autopay sweep: %s", report)
        except Exception:
            log.exception("autopay sweep failed; continuing")
        await asyncio.sleep(interval)
