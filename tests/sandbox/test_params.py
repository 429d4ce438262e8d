"""Parameters are checked against the SDK's parameter types, with Stripe's errors."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from graphql_payments.sandbox import Sandbox
from tests.sandbox.helpers import browser_for, checkout_session, line_item

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": "Bearer sk_test_params"}


async def test_unknown_parameter(client: Any) -> None:
    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.create_async(
            params={"amount": 1000, "currency": "usd", "amout": 5}
        )

    # then
    assert raised.value.http_status == 400
    assert raised.value.code == "parameter_unknown"
    assert raised.value.param == "amout"
    assert "Did you mean amount?" in raised.value.user_message


async def test_unknown_nested_parameter_names_its_full_path(client: Any) -> None:
    # given
    item = line_item()
    item["price_data"]["colour"] = "red"

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await checkout_session(client, line_items=[item])

    # then
    assert raised.value.code == "parameter_unknown"
    assert raised.value.param == "line_items[0][price_data][colour]"


async def test_missing_required_parameter(client: Any) -> None:
    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.create_async(params={"amount": 1000})

    # then
    assert raised.value.code == "parameter_missing"
    assert raised.value.param == "currency"


async def test_malformed_integer(sandbox: Sandbox) -> None:
    # given
    async with browser_for(sandbox) as http:
        # when
        answer = await http.post(
            "/v1/payment_intents", data={"amount": "ten", "currency": "usd"}, headers=AUTH
        )

    # then
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "parameter_invalid_integer"
    assert error["param"] == "amount"


async def test_malformed_boolean(sandbox: Sandbox) -> None:
    # given
    async with browser_for(sandbox) as http:
        # when
        answer = await http.post(
            "/v1/payment_intents",
            data={"amount": "1000", "currency": "usd", "confirm": "yes"},
            headers=AUTH,
        )

    # then
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "confirm"
    assert "boolean" in answer.json()["error"]["message"]


async def test_invalid_enum_value(client: Any) -> None:
    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.create_async(
            params={"amount": 1000, "currency": "usd", "capture_method": "later"}
        )

    # then
    assert raised.value.param == "capture_method"
    assert "automatic, automatic_async, or manual" in raised.value.user_message


async def test_empty_string_for_a_required_value(client: Any) -> None:
    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.create_async(params={"amount": 1000, "currency": ""})

    # then
    assert raised.value.code == "parameter_invalid_empty"
    assert raised.value.param == "currency"


async def test_request_options_are_not_parameters(sandbox: Sandbox) -> None:
    # given
    async with browser_for(sandbox) as http:
        # when
        answer = await http.post("/v1/customers", data={"idempotency_key": "abc"}, headers=AUTH)

    # then
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "parameter_unknown"


async def test_metadata_is_a_free_string_map_with_limits(client: Any) -> None:
    # when
    customer = await client.v1.customers.create_async(
        params={"metadata": {"any_key": "value", "another": "x"}}
    )
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.customers.create_async(
            params={"metadata": {f"key{index}": "v" for index in range(51)}}
        )

    # then
    assert customer.metadata.to_dict() == {"any_key": "value", "another": "x"}
    assert raised.value.param == "metadata"


async def test_query_parameters_of_lists_are_checked(client: Any) -> None:
    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.customers.list_async(params={"limit": 0})
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        await client.v1.customers.list_async(params={"colour": "red"})

    # then
    assert raised.value.param == "limit"
    assert unknown.value.code == "parameter_unknown"


async def test_json_bodies_are_refused(sandbox: Sandbox) -> None:
    # given
    async with browser_for(sandbox) as http:
        # when
        answer = await http.post("/v1/customers", json={"email": "a@b.c"}, headers=AUTH)

    # then
    assert answer.status_code == 400
    assert "form-encoded" in answer.json()["error"]["message"]


async def test_unexpandable_field(client: Any) -> None:
    # given
    customer = await client.v1.customers.create_async(params={"email": "x@y.z"})

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.customers.retrieve_async(customer.id, params={"expand": ["email"]})

    # then
    assert raised.value.param == "expand"
