"""Inputs the database cannot hold are refused with a clear error, never a masked one."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from graphql_payments.services import Services
from graphql_payments.webhooks.models import WebhookEvent
from tests.helpers import (
    CHECKOUT,
    FAILURES,
    ME,
    SHARED_SECRET,
    GraphQLClient,
    as_admin,
    as_user,
    error_codes,
    signed,
    token,
)

HISTORY = "query($after: String) { paymentHistory(after: $after) { totalCount } }"
TOO_EARLY = "0001-01-01T00:00:00+14:00"


def assert_not_masked(body: dict[str, Any]) -> None:
    for error in body.get("errors", []):
        assert error["message"] != "Unexpected error.", body
        assert error.get("extensions", {}).get("code"), body


async def test_nul_characters_are_refused_in_variables_and_literals(gql: GraphQLClient) -> None:
    # given
    literal = '{ paymentStatus(orderId: "order\\u0000x") { id } }'
    checkout_input = {
        "packageId": "basic\x00",
        "idempotencyKey": "k\x00",
        "successUrl": "https://shop.example/ok",
        "cancelUrl": "https://shop.example/cancel",
    }

    # when
    in_literal = await gql(literal, headers=as_user("alice"))
    in_variable = await gql(CHECKOUT, {"input": checkout_input}, headers=as_user("alice"))

    # then
    assert error_codes(in_literal) == ["BAD_USER_INPUT"]
    assert error_codes(in_variable) == ["BAD_USER_INPUT"]
    assert "$.input." in in_variable["errors"][0]["message"]


async def test_user_ids_longer_than_the_column_are_refused(gql: GraphQLClient) -> None:
    # when
    long_jwt = await gql(ME, headers={"Authorization": f"Bearer {token('u' * 129)}"})
    long_header = await gql(
        ME, headers={"X-Payments-Secret": SHARED_SECRET, "X-Hasura-User-Id": "u" * 129}
    )
    fits = await gql(ME, headers={"Authorization": f"Bearer {token('u' * 128)}"})

    # then
    assert error_codes(long_jwt) == ["UNAUTHENTICATED"]
    assert error_codes(long_header) == ["UNAUTHENTICATED"]
    assert fits["data"]["me"]["userId"] == "u" * 128


async def test_moments_outside_what_utc_can_hold_are_refused(gql: GraphQLClient) -> None:
    # given
    cursor = base64.urlsafe_b64encode(f"{TOO_EARLY}|pay_1".encode()).decode()
    failures_cursor = base64.urlsafe_b64encode(f"{TOO_EARLY}|1".encode()).decode()

    # when
    since = await gql(FAILURES, {"since": TOO_EARLY}, headers=as_admin())
    history = await gql(HISTORY, {"after": cursor}, headers=as_user("alice"))
    failures = await gql(FAILURES, {"after": failures_cursor}, headers=as_admin())
    fine = await gql(FAILURES, {"since": "2026-01-01T00:00:00+14:00"}, headers=as_admin())

    # then
    for body in (since, history, failures):
        assert_not_masked(body)
        assert body.get("data") is None or not body["data"].get("failedPayments")
    assert "DateTime" in since["errors"][0]["message"]
    assert error_codes(history) == ["BAD_USER_INPUT"]
    assert error_codes(failures) == ["BAD_USER_INPUT"]
    assert fine["data"]["failedPayments"]["totalCount"] == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Payments-Secret": SHARED_SECRET, "X-Hasura-Role": "admin"},
        {"X-Payments-Secret": SHARED_SECRET},
    ],
)
async def test_a_call_without_a_user_id_is_told_so(
    gql: GraphQLClient, headers: dict[str, str]
) -> None:
    # given
    checkout_input = {
        "packageId": "basic",
        "idempotencyKey": "k-1",
        "successUrl": "https://shop.example/ok",
        "cancelUrl": "https://shop.example/cancel",
    }

    # when
    me = await gql(ME, headers=headers)
    started = await gql(CHECKOUT, {"input": checkout_input}, headers=headers)

    # then
    assert_not_masked(me)
    assert_not_masked(started)
    assert error_codes(me)[0] in ("FORBIDDEN", "UNAUTHENTICATED")
    assert error_codes(started)[0] in ("FORBIDDEN", "UNAUTHENTICATED")


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": "evt_unstorable",
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "cs_test_foreign", "object": "checkout.session"}},
    }
    event.update(changes)
    return event


@pytest.mark.parametrize(
    ("changes", "status", "recorded"),
    [
        ({"created": 10**20}, 200, "IGNORED"),
        ({"created": 1e20}, 200, "IGNORED"),
        ({"created": -(10**12)}, 200, "IGNORED"),
        ({"type": "t" * 300}, 200, "FAILED"),
        ({"type": "checkout.\x00"}, 200, "FAILED"),
        ({"data": {"object": {"id": "cs_" + "y" * 300}}}, 200, "FAILED"),
        ({"data": {"object": {"id": 12}}}, 200, "FAILED"),
        ({"id": "evt_" + "x" * 300}, 400, None),
        ({"id": "evt_\x00"}, 400, None),
    ],
)
async def test_a_signed_webhook_we_cannot_store_is_never_a_500(
    http: httpx.AsyncClient,
    services: Services,
    changes: dict[str, Any],
    status: int,
    recorded: str | None,
) -> None:
    # given
    body, headers = signed(_event(**changes))

    # when
    response = await http.post("/webhooks/stripe", content=body, headers=headers)

    # then
    assert response.status_code == status, response.text
    async with services.db.reading() as session:
        rows = list((await session.execute(select(WebhookEvent))).scalars())
    assert [r.status.value for r in rows] == ([recorded] if recorded else [])


async def test_messages_quote_at_most_100_characters_of_the_input(gql: GraphQLClient) -> None:
    # given
    huge = "p" * (1024 * 1024 - 1000)
    checkout_input = {
        "packageId": huge,
        "idempotencyKey": "k-huge",
        "successUrl": "https://shop.example/ok",
        "cancelUrl": "https://shop.example/cancel",
    }

    # when
    body = await gql(CHECKOUT, {"input": checkout_input}, headers=as_user("alice"))

    # then
    result = body["data"]["checkout"]
    assert result["code"] == "NOT_FOUND"
    assert "p" * 100 in result["message"]
    assert "p" * 101 not in result["message"]
    assert len(str(body)) < 2000


async def test_an_admin_acting_for_an_over_long_user_id_gets_a_validation_error(
    gql: GraphQLClient,
) -> None:
    # given
    authorize = """
    mutation($input: AuthorizeInput!) {
      authorize(input: $input) { __typename ... on ValidationError { field message } }
    }
    """
    authorize_input = {
        "orderId": "order-1",
        "amount": 1000,
        "currency": "usd",
        "paymentMethodId": "pm_card_visa",
        "idempotencyKey": "k-1",
        "userId": "u" * 129,
    }

    # when
    body = await gql(authorize, {"input": authorize_input}, headers=as_admin())

    # then
    assert body["data"]["authorize"] == {
        "__typename": "ValidationError",
        "field": "userId",
        "message": "userId is longer than 128 characters.",
    }


async def test_a_refund_of_an_over_long_payment_id_is_not_found(gql: GraphQLClient) -> None:
    # given
    refund = """
    mutation($input: RefundInput!) {
      refund(input: $input) { __typename ... on UserError { code message } }
    }
    """

    # when
    body = await gql(
        refund, {"input": {"paymentId": "x" * 129, "idempotencyKey": "k"}}, headers=as_admin()
    )

    # then
    assert body["data"]["refund"]["code"] == "NOT_FOUND"
