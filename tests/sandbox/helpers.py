"""Shared pieces of the sandbox tests: SDK client factory, a webhook receiver, factories."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphql_payments.gateway.http import stripe_client
from graphql_payments.sandbox import Sandbox

API_BASE = "http://sandbox.test"
API_KEY = "sk_test_sandbox"
WEBHOOK_SECRET = "whsec_test_secret"
RECEIVER_URL = "http://receiver.test/webhooks"

JSON = dict[str, Any]


def stripe_error(raised: pytest.ExceptionInfo[stripe.StripeError]) -> Any:
    """The `error` object Stripe answered with (SDK attributes: code, decline_code, ...)."""
    error = raised.value.error
    assert error is not None
    return error


def make_sandbox(**options: Any) -> Sandbox:
    options.setdefault("webhook_retry_delays", (0.01, 0.02, 0.05))
    options.setdefault("webhook_timeout", 2.0)
    return Sandbox(public_url=API_BASE, **options)


def client_for(sandbox: Sandbox, *, api_key: str = API_KEY, timeout: float = 30.0) -> Any:
    return stripe_client(
        api_key,
        api_base=API_BASE,
        timeout=timeout,
        transport=httpx.ASGITransport(app=sandbox.app),
    )


def browser_for(sandbox: Sandbox) -> httpx.AsyncClient:
    """A plain HTTP client on the sandbox app, as a payer's browser (no redirects followed)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url=API_BASE)


@dataclass
class Delivery:
    body: bytes
    signature: str
    event: JSON


@dataclass
class Receiver:
    """A webhook endpoint that checks signatures and answers scripted statuses.

    `statuses` and `delays` are consumed one per request; then it answers 200 after `delay`.
    """

    secret: str = WEBHOOK_SECRET
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    delays: list[float] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[Route("/webhooks", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        header = request.headers.get("stripe-signature", "")
        try:
            stripe.WebhookSignature.verify_header(body.decode(), header, self.secret, 300)
        except stripe.SignatureVerificationError as error:
            self.rejected.append(str(error))
            return Response(status_code=400)
        self.deliveries.append(Delivery(body, header, json.loads(body)))
        delay = self.delays.pop(0) if self.delays else self.delay
        if delay:
            await asyncio.sleep(delay)
        status = self.statuses.pop(0) if self.statuses else 200
        return Response(status_code=status)

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)

    @property
    def events(self) -> list[JSON]:
        return [delivery.event for delivery in self.deliveries]

    @property
    def types(self) -> list[str]:
        return [event["type"] for event in self.events]


def listen(sandbox: Sandbox, receiver: Receiver, url: str = RECEIVER_URL) -> str:
    """Register `receiver` as a webhook endpoint; returns the endpoint id."""
    endpoint = sandbox.add_webhook_endpoint(
        url, secret=receiver.secret, transport=receiver.transport()
    )
    return endpoint.id


async def paid_intent(
    client: Any,
    *,
    amount: int = 2000,
    currency: str = "usd",
    payment_method: str = "pm_card_visa",
    **params: Any,
) -> Any:
    """A confirmed PaymentIntent (succeeded, or requires_capture with capture_method=manual)."""
    return await client.v1.payment_intents.create_async(
        params={
            "amount": amount,
            "currency": currency,
            "payment_method": payment_method,
            "confirm": True,
            **params,
        }
    )


def line_item(
    *, name: str = "100 credits", unit_amount: int = 500, quantity: int = 1, currency: str = "usd"
) -> JSON:
    return {
        "quantity": quantity,
        "price_data": {
            "currency": currency,
            "unit_amount": unit_amount,
            "product_data": {"name": name},
        },
    }


async def checkout_session(client: Any, **params: Any) -> Any:
    defaults: JSON = {
        "mode": "payment",
        "line_items": [line_item()],
        "success_url": "https://shop.test/success?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.test/cancel",
    }
    return await client.v1.checkout.sessions.create_async(params={**defaults, **params})
