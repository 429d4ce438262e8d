"""The one clock time-driven work reads (the autopay scheduler).

With real Stripe it is the system clock. In sandbox mode it follows the sandbox's clock, which
tests and people move forward (`POST /_sandbox/control/clock/advance`) the way Stripe test
clocks move: a sandbox served by this process is read directly; a sandbox in another process
(`STRIPE_API_BASE` pointing at `graphql-payments sandbox`) is asked over `GET /control/clock`,
falling back to the system clock when the endpoint is not there (another Stripe emulator).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Protocol

import httpx

from graphql_payments.db import utcnow

log = logging.getLogger(__name__)


class Clock(Protocol):
    async def now(self) -> dt.datetime: ...


class SystemClock:
    async def now(self) -> dt.datetime:
        return utcnow()


class SandboxClock:
    """The clock of a sandbox served in this process (`unix_now`: its `clock.now`)."""

    def __init__(self, unix_now: Callable[[], int]) -> None:
        self.unix_now = unix_now

    async def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.unix_now(), dt.UTC)


class RemoteSandboxClock:
    """The clock of a sandbox in another process, read from its control API."""

    def __init__(self, api_base: str, *, timeout: float = 5.0) -> None:
        self.url = api_base.rstrip("/") + "/control/clock"
        self.timeout = timeout

    async def now(self) -> dt.datetime:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                answer = await client.get(self.url)
            if answer.status_code == 200:
                return dt.datetime.fromtimestamp(int(answer.json()["now"]), dt.UTC)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("could not read the sandbox clock at %s: %s", self.url, exc)
        return utcnow()
