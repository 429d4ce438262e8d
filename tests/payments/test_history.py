"""paymentHistory: a keyset connection, newest first, filtered, stable under inserts."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from graphql_payments.payments import repository
from graphql_payments.payments.models import Payment, PaymentStatus
from graphql_payments.services import Services
from tests.factories import payment_rows
from tests.helpers import GraphQLClient, as_admin, as_user, error_codes

PAGE = """
query($first: Int, $after: String, $status: [PaymentStatus!], $user: String) {
  paymentHistory(first: $first, after: $after, status: $status, userId: $user) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id status } }
  }
}
"""


async def page(gql: GraphQLClient, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
    data = await gql.data(PAGE, variables, headers=headers)
    result: dict[str, Any] = data["paymentHistory"]
    return result


async def test_pages_run_newest_first_and_stay_stable_while_payments_arrive(
    gql: GraphQLClient, services: Services
) -> None:
    # given
    ids = await payment_rows(services, 5)
    alice = as_user("alice")
    # when
    first = await page(gql, alice, first=2)
    await payment_rows(services, 3, offset=100)  # newer payments arrive meanwhile
    second = await page(gql, alice, first=2, after=first["pageInfo"]["endCursor"])
    third = await page(gql, alice, first=2, after=second["pageInfo"]["endCursor"])
    # then
    seen = [e["node"]["id"] for p in (first, second, third) for e in p["edges"]]
    assert seen == list(reversed(ids))
    assert first["pageInfo"]["hasNextPage"] is True
    assert third["pageInfo"]["hasNextPage"] is False
    assert first["totalCount"] == 5
    assert third["totalCount"] == 8


async def test_first_is_capped_at_100(gql: GraphQLClient, services: Services) -> None:
    await payment_rows(services, 105)
    result = await page(gql, as_user("alice"), first=500)
    assert len(result["edges"]) == 100
    assert result["pageInfo"]["hasNextPage"] is True
    assert result["totalCount"] == 105


async def test_filters_by_status_and_admin_by_user(gql: GraphQLClient, services: Services) -> None:
    # given
    await payment_rows(services, 2)
    await payment_rows(services, 1, status=PaymentStatus.EXPIRED, offset=10)
    await payment_rows(services, 4, user_id="bob")
    # when
    expired = await page(gql, as_user("alice"), status=["EXPIRED"])
    everyone = await page(gql, as_admin())
    bob = await page(gql, as_admin(), user=["bob"][0])
    # then
    assert [e["node"]["status"] for e in expired["edges"]] == ["EXPIRED"]
    assert everyone["totalCount"] == 7
    assert bob["totalCount"] == 4


async def test_bad_cursor_and_negative_first_are_client_errors(gql: GraphQLClient) -> None:
    bad_cursor = await gql(PAGE, {"after": "garbage!"}, headers=as_user("alice"))
    negative = await gql(PAGE, {"first": -1}, headers=as_user("alice"))
    assert error_codes(bad_cursor) == ["BAD_USER_INPUT"]
    assert error_codes(negative) == ["BAD_USER_INPUT"]


# How a page's payments may be selected: brief (made from the brief columns alone, which is
# all such a page reads) or not, through aliases, fragments and directives.
EVERY_FIELD = """
id userId kind status amount { amount currency formatted } refundedAmount { amount } credits
packageId description failureCode declineCode failureMessage stripePaymentIntentId
stripeCheckoutSessionId receiptUrl nextActionUrl clientSecret autopayId orderId runnerId
capturedAmount { amount } platformFee { amount } transferId transferredAmount { amount }
transferReversedAmount { amount } holdExpiresAt createdAt updatedAt refunds { id }
disputes { id }
"""
SELECTIONS = {
    "brief": "{ id kind status amount { amount currency formatted } createdAt __typename }",
    "every field": "{ " + EVERY_FIELD + " }",
    "aliased": "{ key: id code: failureCode }",
    "named fragment": "{ ...Shown }",
    "inline fragment": "{ id ... on Payment { failureMessage } }",
    "skipped": "{ id failureCode @skip(if: true) failureMessage @include(if: true) }",
}
FRAGMENT = "fragment Shown on Payment { id amount { amount } failureMessage }"


@pytest.mark.parametrize("name", SELECTIONS)
async def test_a_page_shows_its_payments_as_they_are_shown_one_by_one(
    gql: GraphQLClient, services: Services, name: str
) -> None:
    # given: payments, one of them failed with Stripe's codes
    ids = await payment_rows(services, 3)
    async with services.db.transaction() as session:
        failed = update(Payment).where(Payment.id == ids[1])
        await session.execute(failed.values(failure_code="card_declined", failure_message="No"))
    selection = SELECTIONS[name]
    fragment = FRAGMENT if "..." in selection and "Shown" in selection else ""
    # when
    page = await gql.data(
        f"{{ paymentHistory(first: 5) {{ edges {{ node {selection} }} }} }} {fragment}",
        headers=as_user("alice"),
    )
    # then: each payment as paymentStatus shows it
    nodes = [edge["node"] for edge in page["paymentHistory"]["edges"]]
    assert len(nodes) == 3
    for node, payment_id in zip(nodes, reversed(ids), strict=True):
        one = await gql.data(
            f"query($id: ID) {{ paymentStatus(id: $id) {selection} }} {fragment}",
            {"id": payment_id},
            headers=as_user("alice"),
        )
        assert node == one["paymentStatus"]


async def test_a_brief_page_reads_the_brief_columns_alone(services: Services) -> None:
    await payment_rows(services, 3)
    where = repository.HistoryFilter(user_id="alice", statuses=[], kinds=[])
    async with services.db.read() as connection:
        brief, _ = await repository.history(connection, where, first=5, brief=True)
        full, _ = await repository.history(connection, where, first=5)
    rows: list[Any] = [*brief, *full]  # rows, with their mappings
    assert [set(row._mapping) for row in rows[:3]] == [set(repository.BRIEF_COLUMNS)] * 3
    for short, whole in zip(rows[:3], rows[3:], strict=True):
        assert dict(short._mapping) == {k: whole._mapping[k] for k in repository.BRIEF_COLUMNS}
