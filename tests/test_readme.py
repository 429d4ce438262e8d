"""Every GraphQL example in the README runs as written, in order, on a fresh sandbox server
(`PAYMENTS_SHARED_SECRET=dev-secret-for-graphiql make run`), with the headers the README gives
and doing what its text says between the examples: pay the checkout on the sandbox, create the
runner's Connect account, paste the ids it names (`cs_...`, `pay_...`, `acct_...`, `we_...`)
from earlier answers."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, OperationType, parse
from starlette.applications import Starlette

from graphql_payments.app import create_app
from graphql_payments.config import Settings
from graphql_payments.services import Services

README = (Path(__file__).parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```graphql\n(.*?)```", README, re.DOTALL)
BASE = "http://127.0.0.1:8000"
SECRET = "dev-secret-for-graphiql"
USER_HEADERS = {"X-Payments-Secret": SECRET, "x-hasura-user-id": "alice", "x-hasura-role": "user"}
ADMIN_HEADERS = {"X-Payments-Secret": SECRET, "x-hasura-role": "admin"}
# The README switches to the admin headers for what only the shop may do.
ADMIN_FIELDS = {
    "refund",
    "release",
    "revert",
    "failedPayments",
    "consumeCredits",
    "createWebhookEndpoint",
    "webhookEndpoints",
    "webhookDeliveries",
    "rotateWebhookEndpointSecret",
    "deleteWebhookEndpoint",
}
PLACEHOLDER = re.compile(r'"(cs|pay|acct|pm|we)_\.\.\."')
STRIPE_ID = re.compile(r"^(cs|pay|acct|pm|we)_\w+$")


def test_the_readme_shows_headers_this_test_uses() -> None:
    assert json.dumps(USER_HEADERS) in README
    assert json.dumps(ADMIN_HEADERS) in README
    assert len(BLOCKS) >= 10


@pytest.fixture
async def readme_app(database_url: str) -> AsyncIterator[Starlette]:
    """The server as `PAYMENTS_SHARED_SECRET=dev-secret-for-graphiql make run` starts it."""
    application = create_app(Settings(database_url=database_url, shared_secret=SECRET))
    yield application
    services: Services = application.state.services
    assert services.sandbox is not None
    await services.sandbox.webhooks.wait_idle(timeout=10)
    await services.aclose()


def _ids(value: Any, seen: dict[str, str]) -> None:
    """Remember the first id of each kind an answer shows, as a reader would copy it."""
    if isinstance(value, dict):
        for item in value.values():
            _ids(item, seen)
    elif isinstance(value, list):
        for item in value:
            _ids(item, seen)
    elif isinstance(value, str) and STRIPE_ID.match(value):
        seen.setdefault(value.split("_", 1)[0], value)


async def test_every_graphql_example_of_the_readme_runs(readme_app: Starlette) -> None:
    services: Services = readme_app.state.services
    assert services.sandbox is not None
    seen: dict[str, str] = {}
    transport = httpx.ASGITransport(app=readme_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        for number, block in enumerate(BLOCKS, 1):
            document = parse(block)
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            assert len(operations) == 1, f"example {number} must hold one operation:\n{block}"
            if operations[0].operation == OperationType.SUBSCRIPTION:
                continue  # over WebSocket: tests/events run the subscription
            fields = {s.name.value for s in operations[0].selection_set.selections}  # type: ignore[attr-defined]
            if "acct" not in seen and '"acct_..."' in block:
                # `graphql-payments sandbox account create`, through the same Stripe API
                created = await http.post(
                    "/_sandbox/v1/accounts", auth=("sk_test_sandbox", ""), data={"type": "express"}
                )
                seen["acct"] = created.json()["id"]
                onboarded = await http.post(
                    f"/_sandbox/control/accounts/{seen['acct']}/onboard", json={}
                )
                assert onboarded.status_code == 200, onboarded.text

            for kind in PLACEHOLDER.findall(block):
                assert kind in seen, f"example {number} names {kind}_... before an answer had one"
            query = PLACEHOLDER.sub(lambda match: f'"{seen[match.group(1)]}"', block)
            headers = ADMIN_HEADERS if fields & ADMIN_FIELDS else USER_HEADERS
            # when
            response = await http.post("/graphql", json={"query": query}, headers=headers)
            # then
            body = response.json()
            assert response.status_code == 200, (number, block, body)
            assert "errors" not in body, (number, block, body)
            for field, result in body["data"].items():
                typename = result.get("__typename", "") if isinstance(result, dict) else ""
                assert not typename.endswith("Error"), (number, field, result)
            _ids(body["data"], seen)
            card = body["data"].get("addPaymentMethod")
            if card:
                # "Open the setupUrl and save 4242 4242 4242 4242"
                saved = await http.post(
                    f"/_sandbox/checkout/sessions/{card['sessionId']}/pay",
                    data={"card": "4242424242424242"},
                )
                assert saved.status_code == 303
                await services.sandbox.webhooks.wait_idle(timeout=10)
            checkout = body["data"].get("checkout")
            if checkout:
                # "Open the checkoutUrl and pay with 4242 4242 4242 4242"
                assert checkout["checkoutUrl"].startswith(f"{BASE}/_sandbox/checkout/")
                paid = await http.post(
                    f"/_sandbox/checkout/sessions/{checkout['sessionId']}/pay",
                    data={"card": "4242424242424242"},
                )
                assert paid.status_code == 303
                location = paid.headers["location"]
                assert location == f"{BASE}/pay/success?session_id={checkout['sessionId']}"
                await services.sandbox.webhooks.wait_idle(timeout=10)
                page = await http.get(location.removeprefix(BASE))
                assert "SUCCEEDED" in page.text
    assert {"cs", "pay", "acct"} <= set(seen)
