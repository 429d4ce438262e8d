"""Authentication, routing, envelopes and headers of the `/v1` API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from graphql_payments.gateway.http import stripe_client
from graphql_payments.sandbox import Sandbox
from graphql_payments.sandbox.state import API_RELEASE
from tests.sandbox.helpers import (
    API_BASE,
    API_KEY,
    browser_for,
    checkout_session,
    client_for,
    make_sandbox,
    stripe_error,
)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("api_key", ["sk_live_0000", "pk_test_0123456789abcdef", "nonsense"])
async def test_non_test_secret_keys_are_refused(sandbox: Sandbox, api_key: str) -> None:
    # given
    client = client_for(sandbox, api_key=api_key)

    # when
    with pytest.raises(stripe.AuthenticationError) as raised:
        await client.v1.customers.list_async()

    # then
    assert raised.value.http_status == 401
    assert stripe_error(raised).type == "invalid_request_error"
    assert "Invalid API Key provided" in raised.value.user_message
    assert api_key not in raised.value.user_message or len(api_key) <= 12


async def test_missing_key_is_refused(sandbox: Sandbox) -> None:
    # given
    async with browser_for(sandbox) as http:
        # when
        answer = await http.get("/v1/customers")

    # then
    assert answer.status_code == 401
    assert "did not provide an API key" in answer.json()["error"]["message"]


async def test_basic_auth_with_the_key_as_user_works(sandbox: Sandbox) -> None:
    # given
    async with browser_for(sandbox) as http:
        # when
        answer = await http.get("/v1/customers", auth=("sk_test_basic", ""))

    # then
    assert answer.status_code == 200
    assert answer.json() == {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": "/v1/customers",
    }


async def test_configured_api_keys_are_the_only_ones_accepted() -> None:
    # given
    sandbox = make_sandbox(api_keys=["sk_test_right"])

    # when
    accepted = await client_for(sandbox, api_key="sk_test_right").v1.customers.list_async()
    with pytest.raises(stripe.AuthenticationError):
        await client_for(sandbox, api_key="sk_test_wrong").v1.customers.list_async()

    # then
    assert accepted.data == []


async def test_unknown_url(sandbox: Sandbox) -> None:
    # given
    async with browser_for(sandbox) as http:
        # when
        answer = await http.get("/v1/subscriptions", auth=("sk_test_x", ""))

    # then
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "Unrecognized request URL (GET: /v1/subscriptions)" in error["message"]


async def test_responses_carry_request_id_and_version(client: Any) -> None:
    # when
    customer = await client.v1.customers.create_async(params={"email": "h@h.h"})

    # then
    headers = customer.last_response.headers
    assert headers["request-id"].startswith("req_")
    assert headers["stripe-version"]
    assert customer.last_response.request_id == headers["request-id"]


async def test_customers_crud(client: Any, sandbox: Sandbox) -> None:
    # given
    customer = await client.v1.customers.create_async(
        params={"email": "crud@test.test", "name": "Crud", "metadata": {"user": "7"}}
    )

    # when
    updated = await client.v1.customers.update_async(customer.id, params={"name": "Renamed"})
    found = await client.v1.customers.list_async(params={"email": "crud@test.test"})
    deleted = await client.v1.customers.delete_async(customer.id)
    tombstone = await client.v1.customers.retrieve_async(customer.id)

    # then
    assert customer.object == "customer"
    assert customer.id.startswith("cus_")
    assert updated.name == "Renamed"
    assert [c.id for c in found.data] == [customer.id]
    assert deleted.deleted is True
    assert tombstone.deleted is True
    assert [event["type"] for event in sandbox.events] == [
        "customer.created",
        "customer.updated",
        "customer.deleted",
    ]
    assert sandbox.events[1]["data"]["previous_attributes"] == {"name": "Crud"}


async def test_payment_methods_attach_detach_and_list(client: Any, sandbox: Sandbox) -> None:
    # given
    customer = await client.v1.customers.create_async(params={"email": "pm@test.test"})
    visa = await client.v1.payment_methods.attach_async(
        "pm_card_visa", params={"customer": customer.id}
    )
    mastercard = await client.v1.payment_methods.attach_async(
        "pm_card_mastercard", params={"customer": customer.id}
    )
    await client.v1.customers.update_async(
        customer.id, params={"invoice_settings": {"default_payment_method": visa.id}}
    )

    # when
    detached = await client.v1.payment_methods.detach_async(visa.id)
    listed = await client.v1.payment_methods.list_async(
        params={"customer": customer.id, "type": "card"}
    )

    # then
    assert detached.customer is None
    assert [pm.id for pm in listed.data] == [mastercard.id]
    refreshed = await client.v1.customers.retrieve_async(customer.id)
    assert refreshed.invoice_settings.default_payment_method is None
    types = [event["type"] for event in sandbox.events]
    assert types.count("payment_method.attached") == 2
    assert "payment_method.detached" in types
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payment_methods.detach_async(visa.id)


async def test_balance_follows_money_movements(client: Any) -> None:
    # given
    intent = await client.v1.payment_intents.create_async(
        params={"amount": 10000, "currency": "usd", "payment_method": "pm_card_visa",
                "confirm": True}
    )  # fmt: skip
    await client.v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 1000})

    # when
    balance = await client.v1.balance.retrieve_async()
    transactions = await client.v1.balance_transactions.list_async()

    # then
    fee = round(10000 * 0.029) + 30
    assert balance.available[0].amount == 10000 - fee - 1000
    assert [txn.type for txn in transactions.data] == ["refund", "charge"]


async def test_the_sdk_pins_the_release_the_sandbox_models(sandbox: Sandbox) -> None:
    # given: a client pinned to a version of another release
    other = stripe_client(
        API_KEY,
        api_base=API_BASE,
        api_version="2025-03-31.basil",
        transport=httpx.ASGITransport(app=sandbox.app),
    )

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await other.v1.customers.create_async(params={})

    # then
    assert stripe.api_version.rpartition(".")[2] == API_RELEASE
    assert "Invalid Stripe API version: 2025-03-31.basil" in str(raised.value)


async def test_a_missing_object_named_in_a_parameter_is_a_400_naming_it(client: Any) -> None:
    # given
    calls = {
        "payment_intent": client.v1.refunds.create_async(params={"payment_intent": "pi_nope"}),
        "customer": client.v1.payment_intents.create_async(
            params={"amount": 1000, "currency": "usd", "customer": "cus_nope"}
        ),
        "starting_after": client.v1.customers.list_async(params={"starting_after": "cus_nope"}),
    }

    # when
    raised = {}
    for param, call in calls.items():
        with pytest.raises(stripe.InvalidRequestError) as error:
            await call
        raised[param] = error
    with pytest.raises(stripe.InvalidRequestError) as in_path:
        await client.v1.customers.retrieve_async("cus_nope")

    # then: 400 with the parameter, where a missing object in the path is a 404
    for param, error in raised.items():
        assert error.value.http_status == 400, param
        assert (error.value.code, stripe_error(error).param) == ("resource_missing", param)
    assert (in_path.value.http_status, in_path.value.code) == (404, "resource_missing")


async def test_checkout_with_a_missing_customer_is_a_400(client: Any) -> None:
    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await checkout_session(client, customer="cus_nope")

    # then
    assert raised.value.http_status == 400
    assert stripe_error(raised).param == "customer"
