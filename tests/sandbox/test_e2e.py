"""End to end over real HTTP: the sandbox and a webhook receiver served by uvicorn."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe

from graphql_payments.gateway.http import StripeHTTPClient
from graphql_payments.sandbox import Sandbox, running
from tests.helpers import serving
from tests.sandbox.helpers import Receiver, line_item, make_sandbox

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@contextlib.asynccontextmanager
async def sdk_client(api_base: str, *, request_timeout: float = 10.0) -> AsyncIterator[Any]:
    http_client = StripeHTTPClient(timeout=request_timeout)
    try:
        yield stripe.StripeClient(
            "sk_test_e2e",
            base_addresses={"api": api_base},
            http_client=http_client,
        )
    finally:
        await http_client.aclose()


async def test_checkout_over_real_http_with_signed_webhooks() -> None:
    # given
    sandbox = make_sandbox()
    receiver = Receiver()
    async with (
        running(sandbox) as base_url,
        serving(receiver.app) as receiver_url,
        sdk_client(base_url) as client,
        httpx.AsyncClient() as browser,
    ):
        sandbox.add_webhook_endpoint(f"{receiver_url}/webhooks", secret=receiver.secret)
        session = await client.v1.checkout.sessions.create_async(
            params={"mode": "payment", "line_items": [line_item(unit_amount=1500)],
                    "success_url": "https://shop.test/done/{CHECKOUT_SESSION_ID}",
                    "payment_intent_data": {"metadata": {"order": "e2e"}}}
        )  # fmt: skip

        # when
        page = await browser.get(session.url)
        paid = await browser.post(
            f"{base_url}/checkout/sessions/{session.id}/pay", data={"card": "4242424242424242"}
        )
        await sandbox.webhooks.wait_idle()

        # then
        assert session.url == f"{base_url}/checkout/{session.id}"
        assert page.status_code == 200
        assert "15.00 USD" in page.text
        assert paid.status_code == 303
        assert paid.headers["location"] == f"https://shop.test/done/{session.id}"
        completed = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert completed.payment_status == "paid"
        assert receiver.rejected == []
        assert receiver.types[-1] == "checkout.session.completed"
        assert "payment_intent.succeeded" in receiver.types
        succeeded = next(e for e in receiver.events if e["type"] == "payment_intent.succeeded")
        assert succeeded["data"]["object"]["metadata"] == {"order": "e2e"}
    await sandbox.aclose()


async def test_slow_stripe_makes_the_sdk_time_out() -> None:
    # given
    sandbox = Sandbox()
    async with running(sandbox) as base_url, sdk_client(base_url, request_timeout=0.2) as client:
        sandbox.faults.api_latency(0.6, count=1)

        # when
        with pytest.raises(stripe.APIConnectionError) as raised:
            await client.v1.customers.list_async()
        recovered = await client.v1.customers.list_async()

    # then
    assert "Timeout" in str(raised.value)
    assert recovered.data == []


async def test_unreachable_webhook_endpoint_is_retried_then_given_up() -> None:
    # given
    sandbox = make_sandbox(webhook_retry_delays=(0.01,))
    sandbox.add_webhook_endpoint("http://127.0.0.1:9/webhooks", secret="whsec_x")
    async with running(sandbox) as base_url, sdk_client(base_url) as client:
        # when
        await client.v1.customers.create_async(params={})
        await sandbox.webhooks.wait_idle()

    # then
    attempts = sandbox.webhooks.attempts
    assert [attempt.attempt for attempt in attempts] == [1, 2]
    assert all(attempt.error and "ConnectError" in attempt.error for attempt in attempts)
