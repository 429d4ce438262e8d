"""`Sandbox`: one in-memory Stripe, its ASGI app and the controls tests use."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType

import httpx
from starlette.requests import Request

from graphql_payments.sandbox import checkout, connect, disputes, intents, refunds, timers
from graphql_payments.sandbox.api import Services
from graphql_payments.sandbox.app import build_app
from graphql_payments.sandbox.checkout import CheckoutOutcome
from graphql_payments.sandbox.clock import Clock
from graphql_payments.sandbox.errors import JSON, SandboxError
from graphql_payments.sandbox.faults import Faults
from graphql_payments.sandbox.idempotency import IdempotencyStore
from graphql_payments.sandbox.state import PREFIXES, State, new_id, random_token
from graphql_payments.sandbox.webhooks import DEFAULT_RETRY_DELAYS, WebhookEndpoint, Webhooks

DEFAULT_PUBLIC_URL = "http://127.0.0.1:12111"

log = logging.getLogger("graphql_payments.sandbox")

ClockListener = Callable[[int], Awaitable[object]]


class Sandbox:
    """An emulated Stripe account, served by `app`, with controls for tests.

    `public_url` is where a browser reaches `app` (hosted checkout and 3-D Secure pages are
    linked from there). `api_keys`, when given, are the only test keys accepted; otherwise any
    `sk_test_...` key is. `webhook_retry_delays` are the waits between delivery attempts,
    `webhook_timeout` the time a receiver gets to answer, `async_payment_delay` the seconds of
    sandbox time a SEPA debit stays `processing`. The control API and the index page answer
    only loopback clients (not behind a proxy), or callers sending `control_key` as a bearer
    token when one is given.
    """

    def __init__(
        self,
        public_url: str = DEFAULT_PUBLIC_URL,
        *,
        api_keys: Iterable[str] = (),
        webhook_retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        webhook_timeout: float = 10.0,
        async_payment_delay: int = 180,
        control_key: str | None = None,
    ) -> None:
        self.clock = Clock()
        self.webhooks = Webhooks(retry_delays=webhook_retry_delays, timeout=webhook_timeout)
        self.faults = Faults()
        self.idempotency = IdempotencyStore()
        self.state = State(clock=self.clock, public_url=public_url, publisher=self.webhooks)
        self.state.async_payment_delay = async_payment_delay
        self.api_keys: set[str] = set(api_keys)
        self.control_key = control_key
        self.services = Services(
            self.state, self.webhooks, self.faults, self.idempotency, self.api_keys
        )
        self.app = build_app(self)
        self._clock_listeners: list[ClockListener] = []

    # -- access ------------------------------------------------------------------------------

    def allows_control(self, request: Request) -> bool:
        """Whether `request` may use the control API and the index: a loopback client that
        came through no proxy, or a caller with the control key."""
        if self.control_key:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode(), self.control_key.encode()
            ):
                return True
        if "x-forwarded-for" in request.headers or "forwarded" in request.headers:
            return False
        host = request.client.host if request.client else ""
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    # -- reading -----------------------------------------------------------------------------

    @property
    def public_url(self) -> str:
        return self.state.public_url

    @public_url.setter
    def public_url(self, value: str) -> None:
        self.state.public_url = value.rstrip("/")

    @property
    def events(self) -> list[JSON]:
        """Every event so far, oldest first."""
        return list(self.state.events)

    def events_of(self, event_type: str) -> list[JSON]:
        """Events of one type, oldest first."""
        return [event for event in self.state.events if event["type"] == event_type]

    def objects(self, kind: str) -> list[JSON]:
        """Copies of every object of a kind (`"payment_intent"`, ...), oldest first."""
        if kind not in PREFIXES:
            raise KeyError(f"unknown object kind {kind!r}; one of {', '.join(sorted(PREFIXES))}")
        return [self.state.render(obj) for obj in self.state.all(kind)]

    def get(self, object_id: str) -> JSON:
        """A copy of any object by id, as the API would show it."""
        found = self.state.find(object_id)
        if found is None:
            raise KeyError(object_id)
        return self.state.render(found)

    # -- webhooks ----------------------------------------------------------------------------

    def add_webhook_endpoint(
        self,
        url: str,
        *,
        secret: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        enabled_events: Iterable[str] = ("*",),
    ) -> WebhookEndpoint:
        """Deliver events to `url`, signed with `secret` (generated when None).

        `transport` (an `httpx.AsyncBaseTransport`, e.g. `httpx.ASGITransport(app=...)`)
        delivers in-process instead of over the network.
        """
        endpoint = WebhookEndpoint(
            id=new_id("we"),
            url=url,
            secret=secret or "whsec_" + random_token(32),
            transport=transport,
            enabled_events=tuple(enabled_events),
            created=self.clock.now(),
        )
        return self.webhooks.add(endpoint)

    def remove_webhook_endpoint(self, endpoint_id: str) -> None:
        self.webhooks.remove(endpoint_id)

    # -- time --------------------------------------------------------------------------------

    def on_clock_advance(self, listener: ClockListener) -> None:
        """Await `listener(now)` after each `advance_clock`, the way a Stripe test clock's
        advancement makes a platform's time-driven work run (the product's autopay scheduler
        listens here in sandbox mode). A failing listener is logged, never raised."""
        self._clock_listeners.append(listener)

    async def advance_clock(self, seconds: int) -> int:
        """Move the sandbox clock forward and apply what time triggers; returns the new time."""
        self.clock.advance(seconds)
        timers.run_due(self.state)
        await asyncio.sleep(0)
        now = self.clock.now()
        for listener in list(self._clock_listeners):
            try:
                await listener(now)
            except Exception:
                log.exception("a clock listener failed after the clock moved to %d", now)
        return self.clock.now()

    async def _settle(self) -> None:
        await asyncio.sleep(0)

    # -- what a payer or the card network does ---------------------------------------------------

    async def pay_checkout_session(
        self, session_id: str, card: str = "4242424242424242", *, email: str | None = None
    ) -> CheckoutOutcome:
        """Submit the hosted checkout page with a test card, `pm_card_*` id or test IBAN."""
        timers.run_due(self.state)
        session = self.state.get("checkout.session", session_id)
        outcome = checkout.pay(self.state, session, card, email=email)
        await self._settle()
        return outcome

    async def cancel_checkout_session(self, session_id: str) -> str:
        """Click Cancel on the hosted page; returns the URL the payer is sent to."""
        timers.run_due(self.state)
        session = self.state.get("checkout.session", session_id)
        return checkout.cancel_redirect(self.state, session)

    async def complete_authentication(self, intent_id: str, succeed: bool = True) -> JSON:
        """Finish the 3-D Secure challenge of a Payment- or SetupIntent in `requires_action`."""
        timers.run_due(self.state)
        intent = intents.complete_authentication(self.state, intent_id, succeed=succeed)
        await self._settle()
        return self.state.render(intent)

    async def create_dispute(
        self, charge_id: str, *, amount: int | None = None, reason: str = "fraudulent"
    ) -> JSON:
        """The cardholder disputes a captured charge."""
        charge = self.state.get("charge", charge_id, param="charge")
        dispute = disputes.create_dispute(self.state, charge, amount=amount, reason=reason)
        await self._settle()
        return self.state.render(dispute)

    async def close_dispute(self, dispute_id: str, *, won: bool) -> JSON:
        """The card network decides the dispute."""
        dispute = self.state.get("dispute", dispute_id)
        disputes.close_dispute(self.state, dispute, won=won)
        await self._settle()
        return self.state.render(dispute)

    async def complete_onboarding(self, account_id: str) -> JSON:
        """The holder of a connected account finishes Stripe's onboarding: what was due is
        provided, the requested capabilities turn active, `account.updated` is emitted."""
        account = self.state.get("account", account_id)
        connect.complete_onboarding(self.state, account)
        await self._settle()
        return self.state.render(account)

    async def fail_refund(self, refund_id: str, reason: str = "expired_or_canceled_card") -> JSON:
        """The bank rejects a refund that had succeeded."""
        refund = self.state.get("refund", refund_id)
        refunds.fail_refund(self.state, refund, reason=reason)
        await self._settle()
        return self.state.render(refund)

    # -- lifecycle ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget objects, events, idempotency keys, faults, queued and running deliveries,
        webhook controls and clock offset. Webhook endpoints stay."""
        self.state.reset()
        self.idempotency.clear()
        self.faults.clear()
        self.webhooks.reset()
        self.clock.reset()

    async def aclose(self) -> None:
        """Stop deliveries under way."""
        await self.webhooks.aclose()

    async def __aenter__(self) -> Sandbox:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


__all__ = ["CheckoutOutcome", "Sandbox", "SandboxError"]
