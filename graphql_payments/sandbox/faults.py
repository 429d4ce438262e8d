"""Stripe being down or slow, on demand.

`fail_api(status=500, count=None, path_prefix=None)` makes the next `count` API calls (all
of them when `count` is None) whose path starts with `path_prefix` (for example
`/v1/refunds`; any path when None) answer `status` with Stripe's error body (`api_error`, or
`rate_limit` for 429) before doing anything, so nothing is stored for their idempotency key and
a retry with the same key runs for real. `api_latency(seconds, count=None)` delays the next
`count` calls (or all); a client with a shorter timeout sees a timeout. `clear()` ends both.
Only `/v1` calls are affected, not hosted pages or the control API.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Rule:
    value: float
    remaining: int | None
    path_prefix: str | None = None

    def matches(self, path: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.path_prefix is None:
            return True
        prefix = self.path_prefix
        if not prefix.startswith("/v1"):
            prefix = "/v1" + (prefix if prefix.startswith("/") else "/" + prefix)
        return path.startswith(prefix)

    def take(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1


class Faults:
    """Injected API failures and latency."""

    def __init__(self) -> None:
        self._failures: list[_Rule] = []
        self._latencies: list[_Rule] = []

    def fail_api(
        self, status: int = 500, count: int | None = None, path_prefix: str | None = None
    ) -> None:
        """Answer `status` to the next `count` matching calls (all when None)."""
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status")
        self._failures.append(_Rule(float(status), count, path_prefix))

    def api_latency(self, seconds: float, count: int | None = None) -> None:
        """Delay the next `count` calls (all when None) by `seconds`."""
        self._latencies.append(_Rule(max(0.0, seconds), count))

    def clear(self) -> None:
        self._failures.clear()
        self._latencies.clear()

    def latency_for(self, path: str) -> float:
        for rule in self._latencies:
            if rule.matches(path):
                rule.take()
                return rule.value
        return 0.0

    def failure_for(self, path: str) -> int | None:
        for rule in self._failures:
            if rule.matches(path):
                rule.take()
                return int(rule.value)
        return None
