"""Bounded work per request: query cost before execution, body size, time budget."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from graphql_payments.db import sessions_per_request
from graphql_payments.graphql.view import SESSIONS_PER_REQUEST, Documents
from graphql_payments.services import Services
from tests.helpers import PAYMENT_STATUS, GraphQLClient, as_admin, as_user, checkout, error_codes
from tests.security.conftest import AppClient, app_of, services_of

HISTORY_WITH_NESTED_LISTS = """
  paymentHistory(first: 100) {
    totalCount
    edges { node { id status amount { amount currency }
      refunds { id status amount { amount currency } }
      disputes { id status amount { amount currency } } } }
  }
"""
EXPENSIVE = (
    "query Expensive {\n"
    + "\n".join(f"  h{i}: {HISTORY_WITH_NESTED_LISTS}" for i in range(200))
    + "\n}"
)

REMOTE_JOIN = (
    "query RemoteJoin {\n"
    + "\n".join(
        f'  p{i}: paymentStatus(orderId: "order-{i}") {{ id status amount {{ amount currency }} }}'
        for i in range(1000)
    )
    + "\n}"
)

ONE_PAGE = "query OnePage {" + HISTORY_WITH_NESTED_LISTS + "}"
VARIABLE_PAGE = """
query VariablePage($first: Int) {
  a: paymentHistory(first: $first) { edges { node { id refunds { id } disputes { id } } } }
  b: paymentHistory(first: $first) { edges { node { id refunds { id } disputes { id } } } }
  c: paymentHistory(first: $first) { edges { node { id refunds { id } disputes { id } } } }
}
"""


async def test_many_expensive_aliases_are_refused_before_anything_runs(gql: GraphQLClient) -> None:
    # when
    body = await gql(EXPENSIVE, headers=as_user("alice"))

    # then
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"] > error["extensions"]["maxCost"] == 10_000
    assert str(error["extensions"]["cost"]) in error["message"]


async def test_a_remote_join_of_a_thousand_cheap_aliases_passes(gql: GraphQLClient) -> None:
    # when
    body = await gql(REMOTE_JOIN, headers=as_admin())

    # then
    assert "errors" not in body, body["errors"][:1]
    assert len(body["data"]) == 1000
    assert body["data"]["p0"] is None


async def test_one_full_page_with_nested_lists_passes(gql: GraphQLClient) -> None:
    # when
    body = await gql(ONE_PAGE, headers=as_user("alice"))

    # then
    assert "errors" not in body
    assert body["data"]["paymentHistory"]["totalCount"] == 0


async def test_a_variable_page_size_is_costed_at_the_maximum(gql: GraphQLClient) -> None:
    # when: 3 x 100 x (edge + node + 2 x 10 nested) = 6,600 fits, but is costed without $first
    body = await gql(VARIABLE_PAGE, {"first": 1}, headers=as_user("alice"))

    # then
    assert "errors" not in body


async def test_the_cost_limit_is_a_setting(app_client: AppClient) -> None:
    # given
    async with app_client(max_query_cost=50) as http:
        # when
        response = await http.post("/graphql", json={"query": ONE_PAGE}, headers=as_user("alice"))
        cheap = await http.post(
            "/graphql", json={"query": "{ creditPackages { id } }"}, headers=as_user("alice")
        )

    # then
    assert response.status_code == 200
    assert error_codes(response.json()) == ["QUERY_TOO_COMPLEX"]
    assert response.json()["errors"][0]["extensions"]["maxCost"] == 50
    assert "errors" not in cheap.json()


async def test_bodies_over_the_limit_are_refused_unread(app_client: AppClient) -> None:
    # given
    padding = "x" * 5000
    async with app_client(max_body_bytes=4096) as http:
        # when
        declared = await http.post(
            "/graphql", json={"query": "{ creditPackages { id } }", "extensions": {"p": padding}}
        )

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 1000

        streamed = await http.post(
            "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
        )
        small = await http.post("/graphql", json={"query": "{ creditPackages { id } }"})

    # then
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/json"
        assert error_codes(response.json()) == ["PAYLOAD_TOO_LARGE"]
    assert small.status_code == 200


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 8 * 1024 * 1024])
async def test_the_default_body_limit_is_one_megabyte(app_client: AppClient, size: int) -> None:
    # given
    async with app_client() as http:
        # when
        response = await http.post(
            "/graphql",
            content=b"{" + b" " * (size - 2) + b"}",
            headers={"Content-Type": "application/json"},
        )

    # then
    assert response.status_code == 413
    assert error_codes(response.json()) == ["PAYLOAD_TOO_LARGE"]


async def test_one_request_holds_a_few_database_sessions_at_most(services: Services) -> None:
    # given
    open_now = 0
    most = 0

    async def read() -> None:
        nonlocal open_now, most
        async with services.db.reading():
            open_now += 1
            most = max(most, open_now)
            await asyncio.sleep(0.01)
            open_now -= 1

    # when
    with sessions_per_request(SESSIONS_PER_REQUEST):
        await asyncio.gather(*(read() for _ in range(50)))

    # then
    assert most == SESSIONS_PER_REQUEST


async def test_a_query_over_its_time_budget_is_stopped(app_client: AppClient) -> None:
    # given: a pending checkout, whose status asks Stripe, and Stripe answering slowly
    async with app_client(request_timeout=0.3) as http:
        services = services_of(http)
        assert services.sandbox is not None
        slow = GraphQLClient(http)
        started = await checkout(slow, "alice")
        services.sandbox.faults.api_latency(1.0, None)

        # when
        response = await http.post(
            "/graphql",
            json={"query": PAYMENT_STATUS, "variables": {"id": started["payment"]["id"]}},
            headers=as_user("alice"),
        )
        services.sandbox.faults.clear()

    # then
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert error_codes(response.json()) == ["REQUEST_TIMEOUT"]


async def test_the_cost_rule_keeps_the_document_cache(
    app: Starlette, app_client: AppClient, gql: GraphQLClient
) -> None:
    # given: a query no other test sends, on two apps with different limits
    query = f"query CacheProbe{uuid.uuid4().hex} {{ creditPackages {{ id name }} }}"
    documents: Documents = app.state.graphql.documents
    before = (documents.hits, documents.misses)

    # when
    for _ in range(3):
        await gql(query)
    async with app_client(max_query_cost=7) as http:
        other: Documents = app_of(http).state.graphql.documents
        for _ in range(2):
            response = await http.post("/graphql", json={"query": query})
            assert error_codes(response.json()) == ["QUERY_TOO_COMPLEX"]

    # then: parsed and validated once per app (per limit), served from the cache otherwise
    assert (documents.hits - before[0], documents.misses - before[1]) == (2, 1)
    assert (other.hits, other.misses) == (1, 1)
