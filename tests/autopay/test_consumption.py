"""Spending credits (`consumeCredits`) and reading the ledger (`creditHistory`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.autopay.flows import CONSUME, HISTORY, consume
from tests.helpers import GraphQLClient, as_admin, as_user, balance, checkout, error_codes


@pytest.fixture(autouse=True)
async def ledger_stays_sound(services: Services) -> AsyncIterator[None]:
    yield
    assert await services.credits.verify_ledger() == []


async def _buy(gql: GraphQLClient, sandbox: Sandbox, user_id: str, package: str) -> None:
    started = await checkout(gql, user_id, package_id=package, key=f"buy-{user_id}-{package}")
    await sandbox.pay_checkout_session(started["sessionId"])
    await sandbox.webhooks.wait_idle()


async def test_consuming_credits_takes_them_once_per_key(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    await _buy(gql, sandbox, "alice", "basic")

    # when
    spent = await consume(gql, "alice", 30, key="use-1", reference="job-42")
    again = await consume(gql, "alice", 30, key="use-1", reference="job-42")
    reused = await consume(gql, "alice", 31, key="use-1", reference="job-42")

    # then
    assert spent["__typename"] == "ConsumeCreditsSuccess", spent
    assert spent["balance"] == 70
    entry = spent["entry"]
    assert (entry["userId"], entry["credits"], entry["reason"], entry["reference"]) == (
        "alice",
        -30,
        "CONSUMPTION",
        "job-42",
    )
    assert again["entry"] == entry
    assert reused["__typename"] == "IdempotencyError"
    assert await balance(gql, "alice") == 70


async def test_the_balance_never_goes_below_zero(gql: GraphQLClient, sandbox: Sandbox) -> None:
    # given
    await _buy(gql, sandbox, "alice", "basic")

    # when
    refused = await consume(gql, "alice", 101, key="too-much")

    # then
    assert refused["__typename"] == "InsufficientCreditsError"
    assert refused["code"] == "INSUFFICIENT_CREDITS"
    assert await balance(gql, "alice") == 100


async def test_concurrent_consumption_for_one_user_never_overspends(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given: 100 credits, and twelve calls of 10 at once (on PostgreSQL, truly concurrent)
    await _buy(gql, sandbox, "alice", "basic")

    # when
    results = await asyncio.gather(
        *(consume(gql, "alice", 10, key=f"parallel-{n}") for n in range(12))
    )

    # then
    kinds = sorted(r["__typename"] for r in results)
    assert kinds.count("ConsumeCreditsSuccess") == 10
    assert kinds.count("InsufficientCreditsError") == 2
    assert await balance(gql, "alice") == 0
    assert sorted(r["balance"] for r in results if "balance" in r) == list(range(0, 100, 10))


@pytest.mark.parametrize(
    ("credits", "reference", "field"),
    [(0, "job", "credits"), (-5, "job", "credits"), (5, " ", "reference")],
)
async def test_bad_consumption_is_refused_and_changes_nothing(
    gql: GraphQLClient, credits: int, reference: str, field: str
) -> None:
    # when
    result = await consume(gql, "alice", credits, key=f"bad-{credits}", reference=reference)

    # then
    assert (result["__typename"], result["field"]) == ("ValidationError", field)
    assert await balance(gql, "alice") == 0


async def test_only_admins_and_trusted_services_consume(gql: GraphQLClient) -> None:
    # given
    variables = {
        "input": {"userId": "alice", "credits": 1, "reference": "r", "idempotencyKey": "k"}
    }

    # when
    as_customer = await gql(CONSUME, variables, headers=as_user("alice"))
    as_service = await gql(
        CONSUME,
        variables,
        headers={"X-Payments-Secret": "test-shared-secret", "X-Hasura-Role": "admin"},
    )

    # then
    assert error_codes(as_customer) == ["FORBIDDEN"]
    assert as_service["data"]["consumeCredits"]["code"] == "INSUFFICIENT_CREDITS"


async def test_credit_history_pages_through_the_ledger(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given: a purchase and three consumptions
    await _buy(gql, sandbox, "alice", "basic")
    for n in range(3):
        await consume(gql, "alice", n + 1, key=f"h-{n}", reference=f"job-{n}")

    # when
    first = (await gql.data(HISTORY, {"first": 2}, headers=as_user("alice")))["creditHistory"]
    after = first["pageInfo"]["endCursor"]
    rest = (await gql.data(HISTORY, {"first": 2, "after": after}, headers=as_user("alice")))[
        "creditHistory"
    ]

    # then: newest first
    assert first["totalCount"] == 4
    assert first["pageInfo"]["hasNextPage"] is True
    nodes = [e["node"] for e in first["edges"] + rest["edges"]]
    assert [(n["credits"], n["reason"], n["reference"]) for n in nodes] == [
        (-3, "CONSUMPTION", "job-2"),
        (-2, "CONSUMPTION", "job-1"),
        (-1, "CONSUMPTION", "job-0"),
        (100, "PURCHASE", ""),
    ]
    assert nodes[-1]["paymentId"].startswith("pay_")
    assert rest["pageInfo"]["hasNextPage"] is False
    # an admin reads anyone's; a user only their own
    by_admin = await gql.data(HISTORY, {"userId": "alice"}, headers=as_admin())
    assert by_admin["creditHistory"]["totalCount"] == 4
    denied = await gql(HISTORY, {"userId": "alice"}, headers=as_user("bob"))
    assert error_codes(denied) == ["FORBIDDEN"]
