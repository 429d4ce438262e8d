"""The application shell: health, GraphiQL, creditPackages, the webhook route's signature check."""

from __future__ import annotations

import gc
import json
import time

import httpx
from starlette.applications import Starlette

from graphql_payments.app import YOUNG_COLLECTION
from tests.helpers import GraphQLClient, signed

CREDIT_PACKAGES = """
query { creditPackages { id name credits description price { amount currency formatted } } }
"""


async def test_health_reports_database_and_sandbox_mode(http: httpx.AsyncClient) -> None:
    # when
    response = await http.get("/health")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["stripe"] == "sandbox"


async def test_graphiql_is_served_on_get(http: httpx.AsyncClient) -> None:
    # when
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    # then
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_credit_packages_are_public_with_prices_in_minor_units(gql: GraphQLClient) -> None:
    # when
    data = await gql.data(CREDIT_PACKAGES)
    # then
    assert data["creditPackages"] == [
        {
            "id": "basic",
            "name": "Basic",
            "credits": 100,
            "description": "100 credits for 10.00 USD",
            "price": {"amount": 1000, "currency": "USD", "formatted": "10.00 USD"},
        },
        {
            "id": "standard",
            "name": "Standard",
            "credits": 500,
            "description": "500 credits for 45.00 USD (10% off)",
            "price": {"amount": 4500, "currency": "USD", "formatted": "45.00 USD"},
        },
    ]


async def test_unexpected_errors_are_masked(gql: GraphQLClient) -> None:
    # when: a syntax error is the client's, not masked
    body = await gql("query { creditPackages { nope } }")
    # then
    assert body["errors"][0]["message"].startswith("Cannot query field 'nope'")


def _event(event_id: str = "evt_app_1") -> dict[str, object]:
    return {
        "id": event_id,
        "object": "event",
        "type": "customer.created",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "cus_123", "object": "customer", "metadata": {}}},
    }


async def test_webhook_with_valid_signature_is_accepted(http: httpx.AsyncClient) -> None:
    # given
    body, headers = signed(_event())
    # when
    response = await http.post("/webhooks/stripe", content=body, headers=headers)
    # then
    assert response.status_code == 200
    assert response.json()["received"] is True


async def test_webhook_without_or_with_bad_signature_is_refused(http: httpx.AsyncClient) -> None:
    # given
    body, _ = signed(_event())
    _, wrong = signed(_event(), secret="whsec_someone_else")
    # when
    missing = await http.post("/webhooks/stripe", content=body)
    bad = await http.post("/webhooks/stripe", content=body, headers=wrong)
    tampered = await http.post(
        "/webhooks/stripe",
        content=json.dumps({**_event(), "type": "charge.refunded"}).encode(),
        headers=signed(_event())[1],
    )
    # then
    assert [missing.status_code, bad.status_code, tampered.status_code] == [400, 400, 400]


async def test_a_running_server_collects_young_garbage_less_often(app: Starlette) -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    try:
        async with app.router.lifespan_context(app):
            running = gc.get_threshold()
        after = gc.get_threshold()
    finally:
        gc.set_threshold(*before)
    assert running == (YOUNG_COLLECTION, 10, 10)
    assert after == (700, 10, 10)
