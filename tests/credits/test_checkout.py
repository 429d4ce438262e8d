"""Credit purchases end to end: GraphQL checkout, the sandbox's hosted payment, the webhook,
the ledger, and the status a success page reads."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from graphql_payments.db import utcnow
from graphql_payments.gateway import PAYMENT_ID_KEY
from graphql_payments.payments import repository as payments
from graphql_payments.payments.models import Payment, PaymentKind, PaymentStatus
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from graphql_payments.webhooks import repository as inbox_repository
from graphql_payments.webhooks.models import EventStatus
from tests.helpers import (
    GraphQLClient,
    as_user,
    balance,
    checkout,
    payment_status,
    sandbox_client,
)


@pytest.fixture(autouse=True)
async def ledger_stays_sound(services: Services) -> AsyncIterator[None]:
    yield
    assert await services.credits.verify_ledger() == []


HISTORY = """
query { paymentHistory { totalCount edges { node { id status credits kind } } } }
"""


async def _sessions(sandbox: Sandbox) -> list[str]:
    listed = await sandbox_client(sandbox).v1.checkout.sessions.list_async(params={"limit": 100})
    return [s.id for s in listed.data]


async def _pay(sandbox: Sandbox, session_id: str, card: str = "4242424242424242") -> None:
    await sandbox.pay_checkout_session(session_id, card=card)
    await sandbox.webhooks.wait_idle()


async def test_buying_a_package_credits_the_buyer_once(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    result = await checkout(gql, package_id="basic")
    assert result["__typename"] == "CheckoutSuccess", result
    payment = result["payment"]
    assert payment["status"] == "PENDING"
    assert payment["amount"] == {"amount": 1000, "currency": "USD"}
    assert result["checkoutUrl"].startswith("http://payments.test/_sandbox/checkout/")
    # when
    await _pay(sandbox, result["sessionId"])
    # then
    status = await payment_status(gql, payment["id"])
    assert status["status"] == "SUCCEEDED"
    assert status["stripeCheckoutSessionId"] == result["sessionId"]
    assert status["stripePaymentIntentId"].startswith("pi_")
    assert status["receiptUrl"]
    assert await balance(gql) == 100
    history = (await gql.data(HISTORY, headers=as_user("alice")))["paymentHistory"]
    assert history["totalCount"] == 1
    assert history["edges"][0]["node"] == {
        "id": payment["id"],
        "status": "SUCCEEDED",
        "credits": 100,
        "kind": "CREDIT_PURCHASE",
    }


async def test_a_custom_credit_amount_is_priced_by_the_conversion_rate(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given: 10 credits per 1.00 USD
    result = await checkout(gql, package_id=None, credits=250)
    assert result["__typename"] == "CheckoutSuccess", result
    assert result["payment"]["amount"] == {"amount": 2500, "currency": "USD"}
    # when
    await _pay(sandbox, result["sessionId"])
    # then
    assert (await payment_status(gql, result["payment"]["id"]))["status"] == "SUCCEEDED"
    assert await balance(gql) == 250


@pytest.mark.parametrize(
    ("card", "decline_code"),
    [("4000000000000002", "generic_decline"), ("4000000000009995", "insufficient_funds")],
)
async def test_a_declined_card_leaves_the_session_open_and_records_the_failure(
    gql: GraphQLClient, sandbox: Sandbox, card: str, decline_code: str
) -> None:
    # given
    result = await checkout(gql)
    # when
    await _pay(sandbox, result["sessionId"], card=card)
    # then
    status = await payment_status(gql, result["payment"]["id"])
    assert status["status"] == "PENDING"
    assert status["failureCode"] == "card_declined"
    assert status["declineCode"] == decline_code
    assert status["failureMessage"]
    assert await balance(gql) == 0
    # and the customer may still pay with another card
    await _pay(sandbox, result["sessionId"])
    status = await payment_status(gql, result["payment"]["id"])
    assert status["status"] == "SUCCEEDED"
    assert status["failureCode"] is None
    assert await balance(gql) == 100


async def test_an_expired_session_ends_expired_without_credits(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    result = await checkout(gql)
    # when: a day passes
    await sandbox.advance_clock(25 * 3600)
    await sandbox.webhooks.wait_idle()
    # then
    assert (await payment_status(gql, result["payment"]["id"]))["status"] == "EXPIRED"
    assert await balance(gql) == 0


async def test_duplicated_deliveries_credit_once(gql: GraphQLClient, sandbox: Sandbox) -> None:
    # given: every event is delivered 10 times at once
    sandbox.webhooks.duplicate(times=10)
    result = await checkout(gql)
    # when
    await _pay(sandbox, result["sessionId"])
    # then
    assert await balance(gql) == 100
    assert (await payment_status(gql, result["payment"]["id"]))["status"] == "SUCCEEDED"


async def test_reordered_deliveries_credit_once(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    result = await checkout(gql)
    sandbox.webhooks.hold()
    await sandbox.pay_checkout_session(result["sessionId"], card="4242424242424242")
    # when: the events arrive newest first, and then all over again
    sandbox.webhooks.release(order="reverse")
    await sandbox.webhooks.wait_idle()
    for event in list(sandbox.events):
        await services.inbox.process(event["id"])
    # then
    assert await balance(gql) == 100


async def test_the_success_page_sees_the_outcome_before_the_webhook(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given: the webhook is late
    result = await checkout(gql)
    sandbox.webhooks.hold()
    await sandbox.pay_checkout_session(result["sessionId"], card="4242424242424242")
    # when: the success page asks first, by session id
    data = await gql.data(
        "query($s: String) { paymentStatus(checkoutSessionId: $s) { status } }",
        {"s": result["sessionId"]},
        headers=as_user("alice"),
    )
    # then
    assert data["paymentStatus"]["status"] == "SUCCEEDED"
    assert await balance(gql) == 100
    # and the late webhook changes nothing
    sandbox.webhooks.release()
    await sandbox.webhooks.wait_idle()
    assert await balance(gql) == 100


async def test_a_webhook_before_our_row_commits_is_applied_once_it_exists(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given: Stripe knows a session for a payment id we have not committed yet
    future_id = "pay_committed_later"
    customer = await services.gateway.create_customer(user_id="alice", idempotency_key="c-alice")
    session = await services.gateway.create_checkout_session(
        amount=1000,
        currency="USD",
        name="Basic",
        description=None,
        customer_id=customer,
        success_url="https://shop.example/ok",
        cancel_url="https://shop.example/cancel",
        metadata={PAYMENT_ID_KEY: future_id},
        client_reference_id=future_id,
        idempotency_key="early",
    )
    await _pay(sandbox, session.id)
    async with services.db.reading() as db_session:
        event = await inbox_repository.get(
            db_session, _event_id(sandbox, "checkout.session.completed")
        )
    assert event is not None
    assert event.status is EventStatus.PENDING
    assert event.next_attempt_at is not None
    # when: our row commits, and the retry comes due
    async with services.db.transaction() as db_session:
        await payments.add(
            db_session,
            Payment(
                id=future_id,
                user_id="alice",
                kind=PaymentKind.CREDIT_PURCHASE,
                status=PaymentStatus.PENDING,
                amount=1000,
                currency="USD",
                credits=100,
                package_id="basic",
            ),
        )
    await services.inbox.process_due(now=utcnow() + dt.timedelta(hours=1))
    # then
    assert (await payment_status(gql, future_id))["status"] == "SUCCEEDED"
    assert await balance(gql) == 100


def _event_id(sandbox: Sandbox, event_type: str) -> str:
    return str(next(e["id"] for e in sandbox.events if e["type"] == event_type))


async def test_stripe_down_gives_a_typed_error_and_the_retry_completes(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given: Stripe answers 500 to everything
    sandbox.faults.fail_api(status=500)
    # when
    failed = await checkout(gql, key="retry-me")
    # then
    assert failed["__typename"] == "PaymentProviderError"
    assert failed["code"] == "STRIPE_ERROR"
    assert failed["retryable"] is True
    # when: Stripe is back and the client retries with the same key
    sandbox.faults.clear()
    retried = await checkout(gql, key="retry-me")
    again = await checkout(gql, key="retry-me")
    # then
    assert retried["__typename"] == "CheckoutSuccess", retried
    assert again["sessionId"] == retried["sessionId"]
    assert again["payment"]["id"] == retried["payment"]["id"]
    assert await _sessions(sandbox) == [retried["sessionId"]]


async def test_slow_stripe_gives_a_typed_error_in_bounded_time(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given: Stripe takes longer than our deadline
    sandbox.faults.api_latency(30)
    # when
    result = await asyncio.wait_for(checkout(gql, key="slow"), timeout=20)
    # then
    assert result["__typename"] == "PaymentProviderError"
    assert result["code"] == "STRIPE_ERROR"


async def test_same_key_returns_the_same_payment_and_a_different_input_is_refused(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    first = await checkout(gql, key="k")
    # when
    concurrent = await asyncio.gather(*(checkout(gql, key="k2") for _ in range(5)))
    same = await checkout(gql, key="k")
    other_input = await checkout(gql, key="k", package_id="standard")
    other_user = await checkout(gql, "bob", key="k")
    # then
    assert same["payment"]["id"] == first["payment"]["id"]
    assert same["sessionId"] == first["sessionId"]
    assert len({r["payment"]["id"] for r in concurrent}) == 1
    assert len({r["sessionId"] for r in concurrent}) == 1
    assert other_input["__typename"] == "IdempotencyError"
    assert other_input["code"] == "IDEMPOTENCY_ERROR"
    assert other_user["__typename"] == "CheckoutSuccess"
    assert other_user["payment"]["id"] != first["payment"]["id"]
    assert len(await _sessions(sandbox)) == 3


@pytest.mark.parametrize(
    ("overrides", "typename", "field"),
    [
        ({"package_id": None, "credits": -10}, "ValidationError", "credits"),
        ({"package_id": None, "credits": 0}, "ValidationError", "credits"),
        ({"package_id": None, "credits": 5}, "ValidationError", "credits"),
        ({"package_id": None, "credits": 10_000_000}, "ValidationError", "credits"),
        ({"package_id": "basic", "credits": 100}, "ValidationError", "packageId"),
        ({"package_id": None, "credits": None}, "ValidationError", "packageId"),
        ({"package_id": "platinum"}, "NotFoundError", None),
        ({"success_url": "not a url"}, "ValidationError", "successUrl"),
        ({"cancel_url": "javascript:alert(1)"}, "ValidationError", "cancelUrl"),
        ({"success_url": "ftp://shop.example/x"}, "ValidationError", "successUrl"),
        ({"key": ""}, "ValidationError", "idempotencyKey"),
        ({"key": "x" * 300}, "ValidationError", "idempotencyKey"),
    ],
)
async def test_bad_input_gets_a_typed_error_and_writes_nothing(
    gql: GraphQLClient,
    sandbox: Sandbox,
    services: Services,
    overrides: dict[str, object],
    typename: str,
    field: str | None,
) -> None:
    # when
    result = await checkout(gql, **overrides)  # type: ignore[arg-type]
    # then
    assert result["__typename"] == typename, result
    assert result["message"]
    if field is not None:
        assert result["field"] == field
    async with services.db.read() as connection:
        assert await payments.count(connection, payments.HistoryFilter(user_id=None)) == 0
    assert await _sessions(sandbox) == []
