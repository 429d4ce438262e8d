"""Every answer of /graphql is GraphQL-over-HTTP JSON, whatever the request; production
switches turn off introspection, suggestions and the IDE."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import SHARED_SECRET, error_codes
from tests.security.conftest import AppClient

PACKAGES = "query Packages { creditPackages { id } }"
INTROSPECTION = "{ __schema { queryType { name } } }"
TYPO = "{ creditPackage { id } }"


@pytest.mark.parametrize(
    ("request_args", "status"),
    [
        ({"method": "POST", "content": b'{"query": "{ creditPackages { id } }"'}, 400),
        ({"method": "POST", "content": b"[1, 2"}, 400),
        ({"method": "POST", "content": b'"just a string"'}, 400),
        ({"method": "POST", "json": {"query": PACKAGES, "operationName": "Nope"}}, 400),
        ({"method": "POST", "json": {"query": 12}}, 400),
        ({"method": "POST", "json": {"variables": {}}}, 400),
        ({"method": "POST", "json": [{"query": PACKAGES}]}, 400),
        ({"method": "PUT", "json": {"query": PACKAGES}}, 405),
        ({"method": "DELETE"}, 405),
        (
            {
                "method": "POST",
                "content": b"query=1",
                "headers": {"Content-Type": "text/plain"},
            },
            400,
        ),
        ({"method": "GET", "params": {"query": "mutation { x }"}}, 400),
    ],
)
async def test_transport_errors_are_json(
    http: httpx.AsyncClient, request_args: dict[str, Any], status: int
) -> None:
    # given
    args = dict(request_args)
    args.setdefault("headers", {"Content-Type": "application/json"})

    # when
    response = await http.request(url="/graphql", **args)

    # then
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"errors"}
    assert body["errors"][0]["message"]
    assert error_codes(body) == ["BAD_REQUEST"]
    if status == 405:
        assert response.headers["allow"] == "GET, POST"


async def test_introspection_and_suggestions_are_on_by_default(http: httpx.AsyncClient) -> None:
    # when
    schema = await http.post("/graphql", json={"query": INTROSPECTION})
    typo = await http.post("/graphql", json={"query": TYPO})

    # then
    assert schema.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    assert "Did you mean" in typo.json()["errors"][0]["message"]


async def test_production_switches_turn_off_introspection_suggestions_and_the_ide(
    app_client: AppClient,
) -> None:
    # given
    async with app_client(introspection=False, graphiql=False) as http:
        # when
        schema = await http.post("/graphql", json={"query": INTROSPECTION})
        typo = await http.post("/graphql", json={"query": TYPO})
        ide = await http.get("/graphql", headers={"Accept": "text/html"})
        packages = await http.post("/graphql", json={"query": PACKAGES})
        hasura = await http.post(
            "/graphql",
            json={"query": INTROSPECTION},
            headers={"X-Payments-Secret": SHARED_SECRET, "X-Hasura-Role": "admin"},
        )

    # then
    assert "data" not in schema.json() or schema.json()["data"] is None
    assert "introspection" in schema.json()["errors"][0]["message"].lower()
    message = typo.json()["errors"][0]["message"]
    assert "creditPackage" in message
    assert "Did you mean" not in message
    assert "creditPackages" not in message
    assert ide.status_code == 404
    assert ide.headers["content-type"] == "application/json"
    assert [p["id"] for p in packages.json()["data"]["creditPackages"]] == ["basic", "standard"]
    assert hasura.json()["data"]["__schema"]["queryType"]["name"] == "Query"
