"""A query sent as a JSON POST takes the view's short way (cached document, graphql-core
directly); the same query over GET takes Strawberry's. Both must answer byte for byte alike,
errors included."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from graphql_payments.graphql.view import Documents
from graphql_payments.sandbox import Sandbox
from tests.helpers import CHECKOUT, GraphQLClient, as_admin, as_user
from tests.refunds.flows import buy, refund

HISTORY = """
query($first: Int, $after: String) {
  paymentHistory(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id status kind amount { amount currency formatted }
                          refundedAmount { amount } refunds { id status amount { amount } }
                          createdAt } }
  }
}
"""
CASES: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
    ("a page with refunds", HISTORY, {"first": 2}, as_user("alice")),
    ("packages, anonymous", "{ creditPackages { id price { formatted } } }", {}, {}),
    ("a bad cursor", HISTORY, {"after": "not-a-cursor"}, as_user("alice")),
    ("a variable of the wrong type", HISTORY, {"first": "two"}, as_user("alice")),
    ("an admin field asked by a user", "{ failedPayments { totalCount } }", {}, as_user("alice")),
    ("an admin field asked by an admin", "{ failedPayments { totalCount } }", {}, as_admin()),
    ("anonymous history", HISTORY, {}, {}),
    ("bad credentials", "{ me { userId } }", {}, {"Authorization": "Bearer nope"}),
    ("a null for a required variable", "query($id: ID!) { paymentStatus(id: $id) { id } }",
     {"id": None}, as_user("alice")),
]  # fmt: skip


@pytest.fixture
async def bought(gql: GraphQLClient, sandbox: Sandbox) -> None:
    for n in range(3):
        payment = await buy(gql, sandbox, user="alice", key=f"ways-{n}")
        if n == 1:
            await refund(gql, payment["id"], amount=100, key=f"ways-{n}")


@pytest.mark.usefixtures("bought")
@pytest.mark.parametrize("case", [case[0] for case in CASES])
async def test_post_and_get_answer_alike(
    case: str, http: httpx.AsyncClient, app: Starlette
) -> None:
    _, query, variables, headers = next(c for c in CASES if c[0] == case)
    documents: Documents = app.state.graphql.documents
    hits, misses = documents.hits, documents.misses
    posted = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert (documents.hits + documents.misses) - (hits + misses) == 1  # the short way was tried
    params = {"query": query, "variables": json.dumps(variables)}
    got = await http.get("/graphql", params=params, headers=headers)
    assert documents.hits + documents.misses - (hits + misses) == 1  # GET is Strawberry's
    assert (posted.status_code, posted.headers["content-type"]) == (
        got.status_code,
        got.headers["content-type"],
    )
    assert posted.json() == got.json()
    assert posted.content == got.content


MUTATIONS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("a checkout", {"packageId": "basic", "idempotencyKey": "ways-m"}, as_user("alice")),
    ("an unknown package", {"packageId": "nope", "idempotencyKey": "ways-x"}, as_user("alice")),
    ("anonymous", {"packageId": "basic", "idempotencyKey": "ways-a"}, {}),
]


@pytest.mark.parametrize("case", [case[0] for case in MUTATIONS])
async def test_a_mutation_takes_the_short_way_and_answers_as_strawberry_does(
    case: str, http: httpx.AsyncClient, app: Starlette
) -> None:
    # given: the same request twice (one idempotency key: the same payment both times)
    _, checkout_input, headers = next(c for c in MUTATIONS if c[0] == case)
    body = {"query": CHECKOUT, "variables": {"input": checkout_input}}
    documents: Documents = app.state.graphql.documents
    answered = documents.answered

    # when
    short = await http.post("/graphql", json=body, headers=headers)
    # (asking for a stream keeps a request on Strawberry's way)
    strawberry = await http.post(
        "/graphql", json=body, headers={**headers, "Accept": "multipart/mixed, application/json"}
    )

    # then
    assert documents.answered - answered == 1
    assert (short.status_code, short.headers["content-type"]) == (
        strawberry.status_code,
        strawberry.headers["content-type"],
    )
    assert short.content == strawberry.content


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # turns are SQLite's
async def test_a_mutation_queues_for_its_turn_before_any_work_and_queries_pass(
    http: httpx.AsyncClient, app: Starlette
) -> None:
    view = app.state.graphql
    assert view.turns is not None
    documents: Documents = view.documents
    body = {
        "query": CHECKOUT,
        "variables": {"input": {"packageId": "basic", "idempotencyKey": "q"}},
    }
    # given: another request holds the one turn
    async with view.turns.turn():
        looked_up = documents.hits + documents.misses
        # when
        mutation = asyncio.create_task(http.post("/graphql", json=body, headers=as_user("alice")))
        query = await http.post("/graphql", json={"query": "{ creditPackages { id } }"})
        await asyncio.sleep(0.05)
        # then: the query was answered; the mutation waits, its document not even looked up
        assert query.status_code == 200
        assert documents.hits + documents.misses == looked_up + 1
        assert not mutation.done()
    answered = await mutation
    assert answered.json()["data"]["checkout"]["__typename"] == "CheckoutSuccess"
