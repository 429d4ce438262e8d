"""Stripe down or slow: injected API failures and latency."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import stripe

from graphql_payments.gateway.http import stripe_client
from graphql_payments.sandbox import Sandbox
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
