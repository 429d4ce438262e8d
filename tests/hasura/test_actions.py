"""`POST /hasura/actions`: every root field as an action, answered as Hasura expects."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from graphql_payments.config import DEFAULT_RATE_LIMITS, Settings
from graphql_payments.hasura.actions import actions
from graphql_payments.payments.models import PaymentStatus
from graphql_payments.sandbox import Sandbox
from tests.factories import payment_in
from tests.hasura.flows import act, payload, through_graphql
from tests.helpers import SHARED_SECRET, GraphQLClient, app_http

CHECKOUT_INPUT = {
    "input": {
        "packageId": "basic",
        "idempotencyKey": "hasura-1",
        "successUrl": "https://shop.example/ok?s={CHECKOUT_SESSION_ID}",
        "cancelUrl": "https://shop.example/cancel",
    }
}


def authorize_input(order: str, card: str = "pm_card_visa") -> dict[str, Any]:
    return {
        "input": {
            "orderId": order,
            "amount": 2500,
            "currency": "usd",
            "paymentMethodId": card,
            "idempotencyKey": f"hold-{order}",
            "returnUrl": "https://shop.example/orders",
        }
    }


async def test_user_actions_answer_what_graphql_answers(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    # given: a checkout started as an action
    started = await act(http, "checkout", CHECKOUT_INPUT)
    assert started.status_code == 200, started.text
    payment_id = started.json()["payment"]["id"]
    held = await act(http, "authorize", authorize_input("order-h1"))
    assert held.status_code == 200, held.text
    queries: list[tuple[str, dict[str, Any]]] = [
        ("creditPackages", {}),
        ("me", {}),
        ("paymentStatus", {"id": payment_id}),
        ("paymentStatus", {"orderId": "order-h1"}),
        ("paymentHistory", {"first": 10}),
        ("creditHistory", {"first": 5}),
        ("paymentMethods", {}),
        ("getAutopay", {}),  # the query autopay (the mutation autopay keeps the name)
    ]
    for name, arguments in queries:
        # when
        answer = await act(http, name, arguments)
        # then: the action's output object is the GraphQL field's value
        assert answer.status_code == 200, (name, answer.text)
        assert answer.json() == await through_graphql(gql, name, arguments), name
    # then: the same mutation inputs through GraphQL give the same result (same keys)
    for name, arguments in (
        ("checkout", CHECKOUT_INPUT),
        ("authorize", authorize_input("order-h1")),
    ):
        again = await through_graphql(gql, name, arguments)
        first = started.json() if name == "checkout" else held.json()
        assert again["payment"]["id"] == first["payment"]["id"]
        assert again == first | {"payment": again["payment"]}
    assert started.json()["payment"]["status"] == "PENDING"
    assert held.json()["payment"]["status"] == "AUTHORIZED"
    assert "__typename" not in started.text


async def test_retried_checkout_action_creates_one_payment(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    # when: Hasura retries the same action after a timeout
    first = await act(http, "checkout", CHECKOUT_INPUT)
    second = await act(http, "checkout", CHECKOUT_INPUT)
    # then
    assert first.status_code == second.status_code == 200
    assert first.json()["sessionId"] == second.json()["sessionId"]
    history = await through_graphql(gql, "paymentHistory", {})
    assert history["totalCount"] == 1


async def test_admin_actions(
    http: httpx.AsyncClient, gql: GraphQLClient, sandbox: Sandbox, settings: Settings
) -> None:
    # given
    await payment_in(gql, sandbox, PaymentStatus.AUTHORIZED, order="order-a1")
    await payment_in(gql, sandbox, PaymentStatus.AUTHORIZED, order="order-a2", key="k2")
    paid = await payment_in(gql, sandbox, PaymentStatus.SUCCEEDED, key="k3")
    await payment_in(gql, sandbox, PaymentStatus.FAILED, order="order-a3", key="k4")
    await payment_in(gql, sandbox, PaymentStatus.SUCCEEDED, user="bob", key="k5")
    admin: dict[str, Any] = {"role": "admin", "user": None}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("release", {"input": {"orderId": "order-a1", "runnerId": "runner-1"}}),
        ("revert", {"input": {"orderId": "order-a2", "reason": "canceled"}}),
        # Hasura sends null for an input field left out: the default (force: false) applies.
        ("refund", {"input": {"paymentId": paid["id"], "idempotencyKey": "r1", "force": None}}),
        ("failedPayments", {"first": 5}),
        (
            "consumeCredits",
            {
                "input": {
                    "userId": "bob",
                    "credits": 30,
                    "reference": "job-1",
                    "idempotencyKey": "c1",
                }
            },
        ),
        ("paymentHistory", {"userId": "bob", "first": 3}),
    ]
    for name, arguments in calls:
        # when: a user calls an admin action
        refused = await act(http, name, arguments)
        # then
        assert refused.status_code == 403, (name, refused.text)
        assert refused.json()["extensions"]["code"] == "FORBIDDEN"
        # when: an admin does
        done = await act(http, name, arguments, **admin)
        # then
        assert done.status_code == 200, (name, done.text)
    # then: admin mutations were applied once; the same calls again return the same results
    assert (await act(http, *calls[0], **admin)).json()["payment"]["status"] == "RELEASED"
    assert (await act(http, *calls[1], **admin)).json()["payment"]["status"] == "REVERTED"
    refunded = await act(http, *calls[2], **admin)
    assert refunded.json()["payment"]["status"] == "REFUNDED"
    same = {"input": {"paymentId": paid["id"], "idempotencyKey": "r1"}}
    assert refunded.json() == await through_graphql(gql, "refund", same, **admin)
    consumed = await act(http, *calls[4], **admin)
    assert consumed.json()["balance"] == 70
    failures = await act(http, "failedPayments", {}, **admin)
    assert failures.json()["totalCount"] == 1
    assert failures.json()["edges"][0]["node"]["payment"]["orderId"] == "order-a3"


@pytest.mark.parametrize(
    ("name", "arguments", "code", "details"),
    [
        (
            "checkout",
            {"input": {**CHECKOUT_INPUT["input"], "packageId": "gold"}},
            "NOT_FOUND",
            {"type": "NotFoundError"},
        ),
        (
            "checkout",
            {"input": {**CHECKOUT_INPUT["input"], "successUrl": "ftp://x"}},
            "VALIDATION_ERROR",
            {"type": "ValidationError", "field": "successUrl"},
        ),
        (
            "authorize",
            authorize_input("order-d1", card="pm_card_chargeDeclined"),
            "CARD_DECLINED",
            {"type": "PaymentProviderError", "declineCode": "generic_decline", "retryable": False},
        ),
        (
            "paymentStatus",
            {"id": "pay_1", "orderId": "order-1"},
            "BAD_USER_INPUT",
            {},
        ),
        ("checkout", {"input": {"packageId": "basic"}}, "BAD_USER_INPUT", {}),
        ("checkout", {"input": CHECKOUT_INPUT["input"], "extra": 1}, "BAD_USER_INPUT", {}),
        ("teleport", {}, "NOT_FOUND", {}),
    ],
    ids=[
        "unknown-package",
        "bad-url",
        "declined",
        "two-ids",
        "missing-field",
        "unknown-arg",
        "unknown-action",
    ],
)
async def test_user_errors_are_400_in_hasura_format(
    http: httpx.AsyncClient,
    name: str,
    arguments: dict[str, Any],
    code: str,
    details: dict[str, Any],
) -> None:
    # when
    answer = await act(http, name, arguments)
    # then
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert set(body) == {"message", "extensions"}
    assert body["message"]
    assert body["extensions"]["code"] == code
    assert details.items() <= body["extensions"].items()


async def test_missing_payment_is_null(http: httpx.AsyncClient) -> None:
    answer = await act(http, "paymentStatus", {"orderId": "no-such-order"})
    assert answer.status_code == 200
    assert answer.json() is None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Payments-Secret": "guess"},
        {"ACTION-SECRET": "guess"},
        {"X-Payments-Secret": ""},
        {"Authorization": f"Bearer {SHARED_SECRET}"},
    ],
    ids=["none", "wrong", "wrong-legacy", "empty", "other-header"],
)
async def test_bad_secrets_are_401_and_change_nothing(
    http: httpx.AsyncClient, gql: GraphQLClient, headers: dict[str, str]
) -> None:
    # when
    answer = await act(http, "checkout", CHECKOUT_INPUT, headers=headers)
    # then
    assert answer.status_code == 401
    assert answer.json()["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await through_graphql(gql, "paymentHistory", {}))["totalCount"] == 0


async def test_the_legacy_action_secret_header_works(http: httpx.AsyncClient) -> None:
    answer = await act(http, "me", headers={"ACTION-SECRET": SHARED_SECRET})
    assert answer.status_code == 200
    assert answer.json() == {"userId": "alice", "role": "user", "creditsBalance": 0}


async def test_actions_are_refused_without_a_configured_secret(settings: Settings) -> None:
    # given
    async with app_http(settings.model_copy(update={"shared_secret": None})) as http:
        # when
        answer = await act(http, "me", headers={"X-Payments-Secret": ""})
    # then
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("session", "status", "code"),
    [
        ({"x-hasura-role": "user"}, 401, "UNAUTHENTICATED"),
        ({"x-hasura-role": "intruder", "x-hasura-user-id": "alice"}, 403, "FORBIDDEN"),
        ({"x-hasura-role": "anonymous"}, 401, "UNAUTHENTICATED"),
    ],
    ids=["user-without-id", "unknown-role", "anonymous"],
)
async def test_sessions_without_the_identity_needed_are_refused(
    http: httpx.AsyncClient, session: dict[str, str], status: int, code: str
) -> None:
    body = payload("me") | {"session_variables": session}
    answer = await http.post(
        "/hasura/actions", json=body, headers={"X-Payments-Secret": SHARED_SECRET}
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["extensions"]["code"] == code


async def test_anonymous_may_list_packages(http: httpx.AsyncClient) -> None:
    answer = await act(http, "creditPackages", role="anonymous", user=None)
    assert answer.status_code == 200
    assert [p["id"] for p in answer.json()] == ["basic", "standard"]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"input": {}}', b'{"action": {"name": "me"}, "input": []}'],
    ids=["not-json", "array", "no-action", "input-not-object"],
)
async def test_malformed_payloads_are_400(http: httpx.AsyncClient, body: bytes) -> None:
    answer = await http.post(
        "/hasura/actions", content=body, headers={"X-Payments-Secret": SHARED_SECRET}
    )
    assert answer.status_code == 400
    assert answer.json()["extensions"]["code"] == "BAD_REQUEST"


async def test_every_action_answers_in_hasura_format(http: httpx.AsyncClient) -> None:
    """Whatever root fields exist, each is an action: with no input it answers 200 or a 4xx
    with message and code, never a 404 or a 500."""
    for name in actions():
        for role, user in (("user", "alice"), ("admin", None)):
            answer = await act(http, name, {}, role=role, user=user)
            assert answer.status_code in (200, 400, 403), (name, role, answer.text)
            if answer.status_code != 200:
                assert answer.json()["message"]
                assert answer.json()["extensions"]["code"]


async def test_oversized_bodies_are_413(settings: Settings) -> None:
    # given
    body = payload("checkout", {"input": {**CHECKOUT_INPUT["input"], "cancelUrl": "x" * 2000}})
    async with app_http(settings.model_copy(update={"max_body_bytes": 1024})) as http:
        # when
        answer = await http.post(
            "/hasura/actions", json=body, headers={"X-Payments-Secret": SHARED_SECRET}
        )
    # then
    assert answer.status_code == 413
    assert answer.json()["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.usefixtures("one_rate_window")
async def test_failed_secrets_are_rate_limited(settings: Settings) -> None:
    # given
    limits = {**DEFAULT_RATE_LIMITS, "auth": "2/minute"}
    async with app_http(settings.model_copy(update={"rate_limits": limits})) as http:
        # when
        answers = [await act(http, "me", headers={"X-Payments-Secret": "guess"}) for _ in range(3)]
        good = await act(http, "me")
    # then
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert answers[2].json()["extensions"]["code"] == "RATE_LIMITED"
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert good.status_code == 429  # the address is held back, secret or not
