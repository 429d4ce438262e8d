"""Idempotency keys replay the first answer and refuse reuse with other parameters."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import stripe

from graphql_payments.errors import StripeFailed
from graphql_payments.gateway import StripeGateway
from graphql_payments.sandbox import Sandbox
from tests.sandbox.helpers import API_BASE, API_KEY, browser_for, stripe_error

pytestmark = pytest.mark.anyio

PARAMS = {"amount": 2500, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}


async def test_same_key_and_params_replays_the_first_answer(client: Any, sandbox: Sandbox) -> None:
    # given
    first = await client.v1.payment_intents.create_async(
        params=PARAMS, options={"idempotency_key": "order-1"}
    )

    # when
    second = await client.v1.payment_intents.create_async(
        params=PARAMS, options={"idempotency_key": "order-1"}
    )

    # then
    assert second.id == first.id
    assert second.last_response.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.last_response.headers
    assert len(sandbox.objects("payment_intent")) == 1
    assert len(sandbox.objects("charge")) == 1


async def test_same_key_with_other_params_is_an_idempotency_error(client: Any) -> None:
    # given
    await client.v1.payment_intents.create_async(
        params=PARAMS, options={"idempotency_key": "order-2"}
    )

    # when
    with pytest.raises(stripe.IdempotencyError) as raised:
        await client.v1.payment_intents.create_async(
            params={**PARAMS, "amount": 2600}, options={"idempotency_key": "order-2"}
        )

    # then
    assert raised.value.http_status == 400
    assert stripe_error(raised).type == "idempotency_error"


async def test_same_key_on_another_endpoint_is_an_idempotency_error(client: Any) -> None:
    # given
    await client.v1.customers.create_async(params={}, options={"idempotency_key": "shared"})

    # when
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.payment_intents.create_async(
            params=PARAMS, options={"idempotency_key": "shared"}
        )


async def test_a_decline_is_replayed_as_a_decline(client: Any, sandbox: Sandbox) -> None:
    # given
    declining = {**PARAMS, "payment_method": "pm_card_chargeDeclined"}
    with pytest.raises(stripe.CardError) as first:
        await client.v1.payment_intents.create_async(
            params=declining, options={"idempotency_key": "decline-1"}
        )

    # when
    with pytest.raises(stripe.CardError) as second:
        await client.v1.payment_intents.create_async(
            params=declining, options={"idempotency_key": "decline-1"}
        )

    # then
    assert stripe_error(second).payment_intent.id == stripe_error(first).payment_intent.id
    assert (second.value.headers or {})["idempotent-replayed"] == "true"
    assert len(sandbox.objects("payment_intent")) == 1


async def test_injected_server_errors_are_not_stored(client: Any, sandbox: Sandbox) -> None:
    # given
    sandbox.faults.fail_api(status=500, count=1)
    with pytest.raises(stripe.APIError):
        await client.v1.payment_intents.create_async(
            params=PARAMS, options={"idempotency_key": "retry-1"}
        )

    # when
    retried = await client.v1.payment_intents.create_async(
        params=PARAMS, options={"idempotency_key": "retry-1"}
    )

    # then
    assert retried.status == "succeeded"
    assert "idempotent-replayed" not in retried.last_response.headers


async def test_invalid_requests_are_not_stored(client: Any) -> None:
    # given
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payment_intents.create_async(
            params={**PARAMS, "amount": "many"}, options={"idempotency_key": "fix-me"}
        )

    # when
    fixed = await client.v1.payment_intents.create_async(
        params={**PARAMS, "amount": "many"} | {"amount": 700},
        options={"idempotency_key": "fix-me"},
    )

    # then
    assert fixed.amount == 700


async def test_keys_are_scoped_to_the_api_key(sandbox: Sandbox) -> None:
    # given
    async with browser_for(sandbox) as http:
        first = await http.post(
            "/v1/customers",
            data={"email": "a@a.a"},
            headers={"Idempotency-Key": "k"},
            auth=("sk_test_one", ""),
        )

        # when
        other = await http.post(
            "/v1/customers",
            data={"email": "b@b.b"},
            headers={"Idempotency-Key": "k"},
            auth=("sk_test_two", ""),
        )

    # then
    assert first.status_code == other.status_code == 200
    assert first.json()["id"] != other.json()["id"]


async def test_events_name_the_request_and_its_key(client: Any, sandbox: Sandbox) -> None:
    # when
    customer = await client.v1.customers.create_async(
        params={"email": "k@k.k"}, options={"idempotency_key": "customer-7"}
    )

    # then
    request = sandbox.events[-1]["request"]
    assert request == {
        "id": customer.last_response.request_id,
        "idempotency_key": "customer-7",
    }


async def test_a_duplicate_while_the_first_is_in_flight_is_a_409(
    client: Any, sandbox: Sandbox
) -> None:
    # given: the first request takes a while to execute
    sandbox.faults.api_latency(0.2, count=1)
    first = asyncio.create_task(
        client.v1.payment_intents.create_async(params=PARAMS, options={"idempotency_key": "fly"})
    )
    await asyncio.sleep(0.05)

    # when: stripe-python raises its generic APIError for a 409
    with pytest.raises(stripe.APIError) as raised:
        await client.v1.payment_intents.create_async(
            params=PARAMS, options={"idempotency_key": "fly"}
        )
    created = await first
    replayed = await client.v1.payment_intents.create_async(
        params=PARAMS, options={"idempotency_key": "fly"}
    )

    # then
    assert raised.value.http_status == 409
    assert stripe_error(raised).type == "idempotency_error"
    assert stripe_error(raised).code == "idempotency_key_in_use"
    assert replayed.id == created.id
    assert len(sandbox.objects("payment_intent")) == 1


async def test_the_gateway_converges_on_a_409(sandbox: Sandbox) -> None:
    # given: the gateway as production builds it (the SDK retries a 409 once), and one that
    # does not retry
    transport = httpx.ASGITransport(app=sandbox.app)
    retrying = StripeGateway.create(API_KEY, api_base=API_BASE, transport=transport)
    single = StripeGateway.create(
        API_KEY, api_base=API_BASE, max_network_retries=0, transport=transport
    )

    customer = await retrying.create_customer(user_id="u1", idempotency_key="customer")

    def authorize(gateway: StripeGateway, key: str) -> Any:
        return gateway.authorize_payment(
            amount=2500, currency="USD", customer_id=customer, payment_method_id="pm_card_visa",
            description=None, return_url=None, transfer_group=None, metadata={},
            idempotency_key=key,
        )  # fmt: skip

    # when
    sandbox.faults.api_latency(0.3, count=1)
    first, second = await asyncio.gather(authorize(retrying, "k1"), authorize(retrying, "k1"))
    sandbox.faults.api_latency(0.3, count=1)
    outcomes = await asyncio.gather(
        authorize(single, "k2"), authorize(single, "k2"), return_exceptions=True
    )
    await retrying.aclose()
    await single.aclose()

    # then: the retry gets the first answer; without retries the duplicate is told to retry
    assert first.id == second.id
    refused = [o for o in outcomes if isinstance(o, StripeFailed)]
    assert len(refused) == 1
    assert refused[0].retryable
    assert len(sandbox.objects("payment_intent")) == 2
