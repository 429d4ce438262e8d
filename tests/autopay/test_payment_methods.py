"""Saved cards: the hosted setup page, the default card, removal, and our webhook-fed copy."""

from __future__ import annotations

import httpx

from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.autopay.flows import (
    PAYMENT_METHODS,
    REMOVE,
    SET_DEFAULT,
    add_payment_method,
    payment_methods,
    save_card,
    settle,
)
from tests.helpers import GraphQLClient, as_admin, as_user, error_codes, sandbox_client


async def test_a_card_saved_on_the_hosted_setup_page_is_listed_as_the_default(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given
    started = await add_payment_method(gql)
    assert started["__typename"] == "AddPaymentMethodSuccess", started
    assert started["setupUrl"].startswith("http://payments.test/_sandbox/checkout/cs_test_")
    assert started["clientSecret"].startswith("seti_")
    assert await payment_methods(gql) == []

    # when: the customer submits the hosted page
    answer = await http.post(
        f"/_sandbox/checkout/sessions/{started['sessionId']}/pay",
        data={"card": "4242424242424242"},
    )
    await settle(services)

    # then
    assert answer.status_code == 303
    [card] = await payment_methods(gql)
    assert card["id"].startswith("pm_")
    assert (card["brand"], card["last4"], card["isDefault"]) == ("visa", "4242", True)
    assert 1 <= card["expMonth"] <= 12
    assert card["expYear"] >= 2026
    customer = sandbox.objects("customer")[0]
    assert customer["invoice_settings"]["default_payment_method"] == card["id"]
    # the same key gives the same page; another user sees no card
    again = await add_payment_method(gql)
    assert again["sessionId"] == started["sessionId"]
    assert await payment_methods(gql, "bob") == []


async def test_listing_reads_our_copy_and_admins_may_list_anyones(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given
    card = await save_card(gql, http, services)
    # when: Stripe is down, the list still answers
    sandbox.faults.fail_api(status=500)
    listed = await gql.data(PAYMENT_METHODS, {"userId": "alice"}, headers=as_admin())
    sandbox.faults.clear()
    # then
    assert [m["id"] for m in listed["paymentMethods"]] == [card]
    forbidden = await gql(PAYMENT_METHODS, {"userId": "alice"}, headers=as_user("bob"))
    assert error_codes(forbidden) == ["FORBIDDEN"]


async def test_setting_the_default_and_removing_cards(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given
    first = await save_card(gql, http, services, card="4242424242424242")
    second = await save_card(gql, http, services, card="5555555555554444")
    assert {m["id"]: m["isDefault"] for m in await payment_methods(gql)} == {
        first: True,
        second: False,
    }

    # when
    made = await gql.data(
        SET_DEFAULT, {"input": {"paymentMethodId": second}}, headers=as_user("alice")
    )
    await settle(services)

    # then
    assert made["setDefaultPaymentMethod"]["paymentMethod"] == {"id": second, "isDefault": True}
    assert {m["id"]: m["isDefault"] for m in await payment_methods(gql)} == {
        first: False,
        second: True,
    }

    # when: the default card is removed, the other one becomes the default
    removed = await gql.data(
        REMOVE, {"input": {"paymentMethodId": second}}, headers=as_user("alice")
    )
    await settle(services)

    # then
    assert removed["removePaymentMethod"] == {
        "__typename": "RemovePaymentMethodSuccess",
        "paymentMethodId": second,
    }
    assert [(m["id"], m["isDefault"]) for m in await payment_methods(gql)] == [(first, True)]
    detached = await sandbox_client(sandbox).v1.payment_methods.retrieve_async(second)
    assert detached.customer is None


async def test_a_card_of_another_user_is_not_found(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services
) -> None:
    # given
    card = await save_card(gql, http, services, user_id="alice")

    # when
    as_bob = as_user("bob")
    removed = await gql.data(REMOVE, {"input": {"paymentMethodId": card}}, headers=as_bob)
    made = await gql.data(SET_DEFAULT, {"input": {"paymentMethodId": card}}, headers=as_bob)

    # then
    assert removed["removePaymentMethod"]["code"] == "NOT_FOUND"
    assert made["setDefaultPaymentMethod"]["code"] == "NOT_FOUND"
    assert [m["id"] for m in await payment_methods(gql, "alice")] == [card]


async def test_a_declining_card_is_not_saved_and_a_bad_return_url_is_refused(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services
) -> None:
    # given
    started = await add_payment_method(gql)

    # when
    answer = await http.post(
        f"/_sandbox/checkout/sessions/{started['sessionId']}/pay",
        data={"card": "4000000000009995"},
    )
    await settle(services)
    bad = await gql.data(
        """mutation { addPaymentMethod(input: {returnUrl: "javascript:alert(1)",
           idempotencyKey: "k"}) { __typename ... on ValidationError { field } } }""",
        headers=as_user("alice"),
    )

    # then
    assert "insufficient" in answer.headers["location"]
    assert await payment_methods(gql) == []
    assert bad["addPaymentMethod"] == {"__typename": "ValidationError", "field": "returnUrl"}


async def test_reordered_and_repeated_webhooks_leave_our_copy_right(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given
    first = await save_card(gql, http, services, card="4242424242424242")
    second = await save_card(gql, http, services, card="5555555555554444")
    sandbox.webhooks.hold()
    sandbox.webhooks.duplicate(2)

    # when: the default moves to the second card, the first is removed, and Stripe's events
    # arrive twice each, newest first
    alice = as_user("alice")
    await gql.data(SET_DEFAULT, {"input": {"paymentMethodId": second}}, headers=alice)
    await gql.data(SET_DEFAULT, {"input": {"paymentMethodId": first}}, headers=alice)
    await gql.data(SET_DEFAULT, {"input": {"paymentMethodId": second}}, headers=alice)
    await gql.data(REMOVE, {"input": {"paymentMethodId": first}}, headers=alice)
    sandbox.webhooks.release("reverse")
    await settle(services)

    # then
    assert [(m["id"], m["isDefault"]) for m in await payment_methods(gql)] == [(second, True)]
