"""Signed webhook delivery, with controls for the failures a receiver must survive.

Each event is POSTed as JSON to every registered endpoint that listens to its type, with
`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the endpoint
secret>`. The timestamp is real wall time, as receivers check it against their own clock.
Deliveries run as asyncio tasks on the running loop and never hold up the API call that
caused the event. An answer other than 2xx, a connection error or a timeout is retried after
each of `retry_delays` in turn (the sandbox's `webhook_retry_delays`); every attempt is
recorded in `attempts`.

Controls (all reversible, all cleared by `Sandbox.reset`):

- `hold()` queues deliveries instead of sending them; `release(order="fifo"|"reverse")` sends
  the queue one after another in that order (each one's first attempt finishes before the next
  starts), then stops holding.
- `duplicate(times)` sends every following delivery `times` times at once (`duplicate(1)` ends
  it).
- `delay(seconds)` waits before each following delivery.
- `fail_next(count, status=500, endpoint=None)`: the next `count` attempts to the endpoint (by
  default to each registered endpoint) fail with `status` without reaching the receiver, as
  when a proxy in front of it is down.
- `timeout_next(count, endpoint=None)`: the next `count` attempts reach the receiver, but its
  answer is ignored and the attempt counts as timed out, so the receiver then gets the retry
  of an event it already handled (as when it answers too slowly for Stripe).
- `latency(seconds, endpoint=None)`: a slow network before each attempt; it counts against
  the delivery timeout.

`await wait_idle(timeout)` returns once no delivery (retries included) is under way; held
deliveries do not count until released.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from graphql_payments.sandbox.errors import JSON

DEFAULT_RETRY_DELAYS = (0.05, 0.2, 1.0, 3.0)
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def signature_header(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value for `body`."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{signed_at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={signed_at},v1={digest}"


@dataclass
class WebhookEndpoint:
    """A receiver of events: URL, signing secret and optionally an in-process transport."""

    id: str
    url: str
    secret: str
    transport: httpx.AsyncBaseTransport | None = None
    enabled_events: tuple[str, ...] = ("*",)
    created: int = 0
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    disabled: bool = False

    def accepts(self, event_type: str) -> bool:
        if self.disabled:
            return False
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.enabled_events)

    def to_stripe(self, *, with_secret: bool = False) -> JSON:
        shown: JSON = {
            "id": self.id,
            "object": "webhook_endpoint",
            "api_version": None,
            "application": None,
            "created": self.created,
            "description": self.description,
            "enabled_events": list(self.enabled_events),
            "livemode": False,
            "metadata": dict(self.metadata),
            "status": "disabled" if self.disabled else "enabled",
            "url": self.url,
        }
        if with_secret:
            shown["secret"] = self.secret
        return shown


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of one event to one endpoint."""

    endpoint_id: str
    event_id: str
    event_type: str
    attempt: int
    status: int | None
    error: str | None
    sent_at: float
    copy: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def to_dict(self) -> JSON:
        return {
            "endpoint": self.endpoint_id,
            "event": self.event_id,
            "event_type": self.event_type,
            "attempt": self.attempt,
            "status": self.status,
            "error": self.error,
            "ok": self.ok,
            "sent_at": self.sent_at,
            "copy": self.copy,
        }


@dataclass
class _Delivery:
    event: JSON
    body: bytes
    endpoint: WebhookEndpoint
    copy: int
    delay: float
    first_attempt: asyncio.Event = field(default_factory=asyncio.Event)


EndpointRef = WebhookEndpoint | str | None


class Webhooks:
    """Webhook endpoints, the delivery queue and the failure controls."""

    def __init__(
        self,
        *,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        timeout: float = 10.0,
    ) -> None:
        self.endpoints: dict[str, WebhookEndpoint] = {}
        self.attempts: list[DeliveryAttempt] = []
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._held: list[_Delivery] | None = None
        self._copies = 1
        self._delay = 0.0
        self._fail: dict[str, tuple[int, int]] = {}
        self._timeouts: dict[str, int] = {}
        self._latency: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._unstarted: list[Coroutine[Any, Any, None]] = []
        self._delivered: set[tuple[str, str]] = set()
        self._ssl: ssl.SSLContext | None = None

    # -- endpoints ---------------------------------------------------------------------------

    def add(self, endpoint: WebhookEndpoint) -> WebhookEndpoint:
        self.endpoints[endpoint.id] = endpoint
        return endpoint

    def remove(self, endpoint_id: str) -> WebhookEndpoint:
        return self.endpoints.pop(endpoint_id)

    def _targets(self, endpoint: EndpointRef) -> list[str]:
        if endpoint is None:
            return list(self.endpoints)
        endpoint_id = endpoint.id if isinstance(endpoint, WebhookEndpoint) else endpoint
        if endpoint_id not in self.endpoints:
            raise KeyError(f"no webhook endpoint {endpoint_id}")
        return [endpoint_id]

    # -- controls ----------------------------------------------------------------------------

    def hold(self) -> None:
        """Queue deliveries until `release`."""
        if self._held is None:
            self._held = []

    @property
    def holding(self) -> bool:
        return self._held is not None

    @property
    def held(self) -> int:
        """Number of queued deliveries."""
        return len(self._held or [])

    def release(self, order: Literal["fifo", "reverse"] = "fifo") -> None:
        """Send the queued deliveries in `order`, one after another, and stop holding."""
        if order not in ("fifo", "reverse"):
            raise ValueError("order must be 'fifo' or 'reverse'")
        queue = list(self._held or [])
        self._held = None
        if order == "reverse":
            queue.reverse()
        if queue:
            self._spawn(self._release(queue))

    async def _release(self, queue: list[_Delivery]) -> None:
        for delivery in queue:
            self._spawn(self._deliver(delivery))
            await delivery.first_attempt.wait()

    def duplicate(self, times: int = 2) -> None:
        """Send every following delivery `times` times, concurrently."""
        if times < 1:
            raise ValueError("times must be at least 1")
        self._copies = times

    def delay(self, seconds: float) -> None:
        """Wait `seconds` before each following delivery."""
        self._delay = max(0.0, seconds)

    def fail_next(self, count: int, status: int = 500, endpoint: EndpointRef = None) -> None:
        """The next `count` attempts (per endpoint) fail with `status`, unsent."""
        for endpoint_id in self._targets(endpoint):
            self._fail[endpoint_id] = (count, status)

    def timeout_next(self, count: int, endpoint: EndpointRef = None) -> None:
        """The next `count` attempts (per endpoint) are sent, then counted as timed out."""
        for endpoint_id in self._targets(endpoint):
            self._timeouts[endpoint_id] = count

    def latency(self, seconds: float, endpoint: EndpointRef = None) -> None:
        """Wait `seconds` before each attempt to the endpoint (inside the timeout)."""
        for endpoint_id in self._targets(endpoint):
            self._latency[endpoint_id] = max(0.0, seconds)

    def clear(self) -> None:
        """Back to plain delivery: no hold (queue dropped), duplicates, delays or failures."""
        self._held = None
        self._copies = 1
        self._delay = 0.0
        self._fail.clear()
        self._timeouts.clear()
        self._latency.clear()

    def reset(self) -> None:
        """`clear`, forget attempts and stop deliveries under way."""
        self.clear()
        self.attempts.clear()
        self._delivered.clear()
        for coroutine in self._unstarted:
            coroutine.close()
        self._unstarted.clear()
        for task in list(self._tasks):
            task.cancel()

    # -- delivery ----------------------------------------------------------------------------

    def recipients(self, event_type: str) -> int:
        return sum(1 for endpoint in self.endpoints.values() if endpoint.accepts(event_type))

    def publish(self, event: JSON) -> None:
        """Deliver `event` to every endpoint listening to its type."""
        body = json.dumps(event, indent=2).encode()
        for endpoint in self.endpoints.values():
            if not endpoint.accepts(event["type"]):
                continue
            for copy in range(1, self._copies + 1):
                delivery = _Delivery(event, body, endpoint, copy, self._delay)
                if self._held is not None:
                    self._held.append(delivery)
                else:
                    self._spawn(self._deliver(delivery))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._unstarted.append(coroutine)
            return
        for waiting in self._unstarted:
            self._track(loop.create_task(waiting))
        self._unstarted.clear()
        self._track(loop.create_task(coroutine))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: _Delivery) -> None:
        try:
            if delivery.delay:
                await asyncio.sleep(delivery.delay)
            attempts = len(self.retry_delays) + 1
            for number in range(1, attempts + 1):
                if delivery.endpoint.id not in self.endpoints:
                    return
                ok = await self._attempt(delivery, number)
                delivery.first_attempt.set()
                if ok:
                    self._mark_delivered(delivery)
                    return
                if number < attempts:
                    await asyncio.sleep(self.retry_delays[number - 1])
        finally:
            delivery.first_attempt.set()

    def _mark_delivered(self, delivery: _Delivery) -> None:
        key = (delivery.event["id"], delivery.endpoint.id)
        if key in self._delivered:
            return
        self._delivered.add(key)
        delivery.event["pending_webhooks"] = max(0, delivery.event["pending_webhooks"] - 1)

    def _record(
        self, delivery: _Delivery, number: int, status: int | None, error: str | None
    ) -> bool:
        attempt = DeliveryAttempt(
            endpoint_id=delivery.endpoint.id,
            event_id=delivery.event["id"],
            event_type=delivery.event["type"],
            attempt=number,
            status=status,
            error=error,
            sent_at=time.time(),
            copy=delivery.copy,
        )
        self.attempts.append(attempt)
        return attempt.ok

    async def _attempt(self, delivery: _Delivery, number: int) -> bool:
        endpoint = delivery.endpoint
        failing = self._fail.get(endpoint.id)
        if failing is not None and failing[0] > 0:
            count, status = failing
            self._fail[endpoint.id] = (count - 1, status)
            return self._record(delivery, number, status, None)
        forced_timeout = self._timeouts.get(endpoint.id, 0) > 0
        if forced_timeout:
            self._timeouts[endpoint.id] -= 1
        latency = self._latency.get(endpoint.id, 0.0)
        try:
            async with asyncio.timeout(self.timeout):
                if latency:
                    await asyncio.sleep(latency)
                status = await self._post(endpoint, delivery.body)
        except TimeoutError:
            return self._record(delivery, number, None, "timeout")
        except Exception as exc:  # the receiver's failure is the attempt's result
            return self._record(delivery, number, None, f"{type(exc).__name__}: {exc}")
        if forced_timeout:
            return self._record(delivery, number, None, "timeout")
        return self._record(delivery, number, status, None)

    async def _post(self, endpoint: WebhookEndpoint, body: bytes) -> int:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Cache-Control": "no-cache",
            "Stripe-Signature": signature_header(body, endpoint.secret),
        }
        request = httpx.Request("POST", endpoint.url, content=body, headers=headers)
        if endpoint.transport is not None:
            response = await endpoint.transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
            return response.status_code
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        async with httpx.AsyncClient(verify=self._ssl) as client:
            answer = await client.send(request)
            return answer.status_code

    async def wait_idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - public contract
        """Return when no delivery is under way; TimeoutError after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        if self._unstarted:
            for waiting in self._unstarted:
                self._track(loop.create_task(waiting))
            self._unstarted.clear()
        deadline = loop.time() + timeout
        await asyncio.sleep(0)
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"{len(self._tasks)} webhook deliveries still under way after {timeout}s"
                )
            await asyncio.wait(set(self._tasks), timeout=remaining)

    async def aclose(self) -> None:
        """Stop every delivery under way."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def for_event(self, event_id: str) -> list[DeliveryAttempt]:
        return [attempt for attempt in self.attempts if attempt.event_id == event_id]
