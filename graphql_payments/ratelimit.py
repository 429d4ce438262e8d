"""Rate limits, with the `limits` library: per client IP, per user, for failed authentication,
for mutations that create Stripe objects, and for trusted services.

Counters live in memory (one process) or in Redis (`PAYMENTS_RATE_LIMIT_STORAGE=redis://...`,
shared by every process). Each kind takes one or more limits in the library's notation
(`10/minute;60/hour`); `PAYMENTS_RATE_LIMITS=off` turns them all off. When the storage cannot
be reached the request goes through and the failure is logged: an outage of the counters must
not become an outage of payments.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from graphql_payments.config import Settings

log = logging.getLogger(__name__)

IP = "ip"
USER = "user"
STRIPE = "stripe"
AUTH = "auth"
SERVICE = "service"


@dataclass(frozen=True, slots=True)
class Exceeded:
    """A refused request: which limit, and the seconds until it admits one again."""

    kind: str
    limit: str
    retry_after: int


def _storage_uri(uri: str) -> str:
    return uri if uri.startswith("async+") else "async+" + uri


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits is not None
        self.items: dict[str, list[RateLimitItem]] = {
            kind: parse_many(limit) for kind, limit in (settings.rate_limits or {}).items()
        }
        self.proxies = [ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies]
        self.storage = None
        self.strategy = None
        if self.enabled:
            options: dict[str, str | float | bool] = {}
            if not settings.rate_limit_storage.startswith("memory"):
                options["key_prefix"] = settings.rate_limit_prefix
            self.storage = storage_from_string(
                _storage_uri(settings.rate_limit_storage), wrap_exceptions=True, **options
            )
            self.strategy = SlidingWindowCounterRateLimiter(self.storage)

    async def hit(self, kind: str, key: str, *, cost: int = 1) -> Exceeded | None:
        """Count `cost` against every limit of `kind` for `key`; the first one exceeded."""
        if self.strategy is None:
            return None
        try:
            for item in self.items[kind]:
                if not await self.strategy.hit(item, kind, key, cost=cost):
                    stats = await self.strategy.get_window_stats(item, kind, key)
                    wait = max(1, math.ceil(stats.reset_time - time.time()))
                    return Exceeded(kind=kind, limit=str(item), retry_after=wait)
        except Exception as exc:
            log.error("rate limit storage unavailable, request allowed: %s", exc)
        return None

    async def over(self, kind: str, key: str) -> Exceeded | None:
        """The limit of `kind` that `key` has used up, without counting this request."""
        if self.strategy is None:
            return None
        try:
            for item in self.items[kind]:
                if not await self.strategy.test(item, kind, key):
                    stats = await self.strategy.get_window_stats(item, kind, key)
                    wait = max(1, math.ceil(stats.reset_time - time.time()))
                    return Exceeded(kind=kind, limit=str(item), retry_after=wait)
        except Exception as exc:
            log.error("rate limit storage unavailable, request allowed: %s", exc)
        return None

    def client_ip(self, peer: str | None, forwarded_for: Sequence[str]) -> str:
        """The client's address: the peer, or with a trusted proxy in front, the last address
        in X-Forwarded-For that is not one of the trusted proxies."""
        address = peer or "unknown"
        if not self.proxies or not self._trusted(address):
            return address
        hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop[:64]
            address = hop
        return address

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.proxies)

    async def aclose(self) -> None:
        """Close the storage's connections (the `limits` storages have no close of their own)."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            try:
                pool.disconnect()
                await asyncio.sleep(0)  # let the transports finish closing
            except Exception as exc:
                log.debug("closing the rate limit storage: %s", exc)
