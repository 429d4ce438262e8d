"""A webhook receiver that verifies signatures with `standardwebhooks`, and endpoint helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphql_payments.services import Services
from tests.helpers import GraphQLClient, as_admin

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "events"

CREATE_ENDPOINT = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    __typename
    ... on CreateWebhookEndpointSuccess { endpoint { id url events description } secret }
    ... on UserError { code message }
    ... on ValidationError { field }
  }
}
"""

DELIVERIES = """
query($endpointId: ID, $status: DeliveryStatus, $first: Int, $after: String) {
  webhookDeliveries(endpointId: $endpointId, status: $status, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id endpointId sink eventId eventType sequence subject status attempts
                   lastStatusCode lastError deliveredAt payload } }
  }
}
"""


@dataclass
class Receiver:
    """Accepts signed events after failing the first `fail_first` requests."""

    secret: str = ""
    fail_first: int = 0
    requests: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        self.requests += 1
        if self.requests <= self.fail_first:
            return Response("not now", status_code=500)
        body = await request.body()
        try:
            event = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            return Response("bad signature", status_code=400)
        assert request.headers["webhook-id"] == event["data"]["eventId"]
        self.events.append(event)
        self.headers.append(dict(request.headers))
        return Response(status_code=204)

    def of(self, subject: str) -> list[str]:
        """The event types received about one payment (or user:<id>), in arrival order."""
        return [e["type"] for e in self.events if e["data"]["subject"] == subject]


async def create_endpoint(
    gql: GraphQLClient, url: str, *, events: list[str] | None = None
) -> dict[str, Any]:
    variables = {"input": {"url": url, "events": events or [], "description": "test"}}
    data = await gql.data(CREATE_ENDPOINT, variables, headers=as_admin())
    result: dict[str, Any] = data["createWebhookEndpoint"]
    return result


async def deliveries(gql: GraphQLClient, **variables: Any) -> dict[str, Any]:
    data = await gql.data(DELIVERIES, variables, headers=as_admin())
    result: dict[str, Any] = data["webhookDeliveries"]
    return result


async def relay_until_idle(services: Services) -> None:
    await services.relay.drain()


def assert_valid(message: dict[str, Any]) -> None:
    """The message matches the JSON Schema published for its type."""
    schema = json.loads((SCHEMAS / f"{message['type']}.json").read_text())
    jsonschema.validate(message, schema, format_checker=jsonschema.FormatChecker())


def in_order(messages: list[dict[str, Any]], subject: str) -> list[str]:
    """A subject's event types, checking that they arrived numbered 1, 2, 3..."""
    mine = [m for m in messages if m["data"]["subject"] == subject]
    assert [m["data"]["sequence"] for m in mine] == list(range(1, len(mine) + 1)), mine
    return [m["type"] for m in mine]
