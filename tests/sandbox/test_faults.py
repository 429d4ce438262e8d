"""Stripe down or slow: injected API failures and latency, through the SDK in process and
through the gateway over a socket."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import stripe

from graphql_payments.errors import StripeFailed
from graphql_payments.gateway.http import (
    StripeAIOHTTPClient,
    StripeHTTPClient,
    env_proxy,
    http_client,
    stripe_client,
)
from graphql_payments.gateway.stripe_gateway import StripeGateway
from graphql_payments.sandbox import Sandbox
from tests.helpers import serving
from tests.sandbox.helpers import client_for, stripe_error

pytestmark = pytest.mark.anyio


async def test_fail_api_makes_the_sdk_raise_api_error(client: Any, sandbox: Sandbox) -> None:
    # given
    sandbox.faults.fail_api(status=503, count=2)

    # when
    with pytest.raises(stripe.APIError) as first:
        await client.v1.customers.list_async()
    with pytest.raises(stripe.APIError):
        await client.v1.customers.create_async(params={})
    recovered = await client.v1.customers.create_async(params={})

    # then
    assert first.value.http_status == 503
    assert stripe_error(first).type == "api_error"
    assert recovered.id.startswith("cus_")
    assert sandbox.objects("customer") == [sandbox.get(recovered.id)]


async def test_fail_api_by_path_prefix(client: Any, sandbox: Sandbox) -> None:
    # given
    sandbox.faults.fail_api(status=500, path_prefix="/v1/refunds")

    # when
    customer = await client.v1.customers.create_async(params={})
    with pytest.raises(stripe.APIError):
        await client.v1.refunds.list_async()
    with pytest.raises(stripe.APIError):
        await client.v1.refunds.list_async()
    sandbox.faults.clear()
    refunds = await client.v1.refunds.list_async()

    # then
    assert customer.id.startswith("cus_")
    assert refunds.data == []


async def test_rate_limit_fault(client: Any, sandbox: Sandbox) -> None:
    # given
    sandbox.faults.fail_api(status=429, count=1)

    # when
    with pytest.raises(stripe.RateLimitError) as raised:
        await client.v1.customers.list_async()

    # then
    assert raised.value.http_status == 429


async def test_sdk_retries_through_a_transient_failure(sandbox: Sandbox) -> None:
    # given
    sandbox.faults.fail_api(status=500, count=1)
    client = stripe_client(
        "sk_test_retry",
        api_base="http://sandbox.test",
        max_network_retries=2,
        transport=httpx.ASGITransport(app=sandbox.app),
    )

    # when
    customer = await client.v1.customers.create_async(params={"email": "r@r.r"})

    # then
    assert customer.email == "r@r.r"
    assert len(sandbox.objects("customer")) == 1


async def test_api_latency_slows_calls(sandbox: Sandbox) -> None:
    # given
    client = client_for(sandbox)
    sandbox.faults.api_latency(0.2, count=1)

    # when
    started = time.monotonic()
    await client.v1.customers.list_async()
    slow = time.monotonic() - started
    started = time.monotonic()
    await client.v1.customers.list_async()
    fast = time.monotonic() - started

    # then
    assert slow >= 0.2
    assert fast < 0.2


# -- through the gateway over a socket (aiohttp, as against Stripe itself) -----------------------


async def test_over_the_network_the_sdk_sends_with_aiohttp(sandbox: Sandbox) -> None:
    assert isinstance(http_client(timeout=1, transport=None), StripeAIOHTTPClient)
    in_process = httpx.ASGITransport(app=sandbox.app)
    assert isinstance(http_client(timeout=1, transport=in_process), StripeHTTPClient)


def test_the_proxy_for_stripe_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy(None) is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert env_proxy(None) == "http://proxy.internal:3128"  # api.stripe.com
    assert env_proxy("http://127.0.0.1:12111") is None  # NO_PROXY covers it
    sdk = http_client(timeout=1, transport=None)
    assert isinstance(sdk, StripeAIOHTTPClient)
    assert sdk._proxy == {
        "http": "http://proxy.internal:3128",
        "https": "http://proxy.internal:3128",
    }


async def test_the_gateway_over_a_socket_calls_retries_and_times_out(sandbox: Sandbox) -> None:
    async with serving(sandbox.app) as url:
        gateway = StripeGateway.create("sk_test_net", api_base=url, timeout=0.5)
        try:
            # a call, and one that succeeds on the SDK's retry after a 503
            first = await gateway.create_customer(user_id="u1", idempotency_key="customer-u1")
            sandbox.faults.fail_api(status=503, count=1)
            second = await gateway.create_customer(user_id="u2", idempotency_key="customer-u2")
            # Stripe down past the retry: a retryable failure
            sandbox.faults.fail_api(status=503, count=2)
            with pytest.raises(StripeFailed) as down:
                await gateway.create_customer(user_id="u3", idempotency_key="customer-u3")
            # Stripe slower than the timeout, retry included: a retryable failure, in bounded time
            sandbox.faults.api_latency(2.0, count=2)
            started = time.monotonic()
            with pytest.raises(StripeFailed) as slow:
                await gateway.create_customer(user_id="u4", idempotency_key="customer-u4")
            waited = time.monotonic() - started
        finally:
            await gateway.aclose()
    assert first.startswith("cus_")
    assert second.startswith("cus_")
    assert down.value.retryable
    assert slow.value.retryable
    assert waited < 4.0
    assert {c["metadata"]["payments_user_id"] for c in sandbox.objects("customer")} >= {"u1", "u2"}
