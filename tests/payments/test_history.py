"""paymentHistory: a keyset connection, newest first, filtered, stable under inserts."""

from __future__ import annotations

from typing import Any

from graphql_payments.payments.models import PaymentStatus
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
