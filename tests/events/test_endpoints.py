"""Admins manage webhook endpoints; a URL must be http(s) and public unless allowed."""

from __future__ import annotations

import pytest

from graphql_payments.config import Settings
from graphql_payments.errors import InvalidInput
from graphql_payments.events.sinks import check_url
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.events.helpers import (
    CREATE_ENDPOINT,
    Receiver,
    create_endpoint,
    deliveries,
    relay_until_idle,
)
from tests.helpers import GraphQLClient, as_admin, as_user, serving
from tests.refunds.flows import buy

pytestmark = pytest.mark.anyio

ENDPOINTS = "{ webhookEndpoints { id url events description } }"
ROTATE = """
mutation($input: RotateWebhookEndpointSecretInput!) {
  rotateWebhookEndpointSecret(input: $input) {
    __typename
    ... on RotateWebhookEndpointSecretSuccess { endpoint { id } secret }
    ... on UserError { code message }
  }
}
"""
DELETE = """
mutation($input: DeleteWebhookEndpointInput!) {
  deleteWebhookEndpoint(input: $input) {
    __typename
    ... on DeleteWebhookEndpointSuccess { endpoint { id url } }
    ... on UserError { code message }
  }
}
"""


async def test_only_admins_manage_endpoints(gql: GraphQLClient) -> None:
    # when
    variables = {"input": {"url": "https://hooks.example/x"}}
    body = await gql(CREATE_ENDPOINT, variables, headers=as_user("alice"))
    listed = await gql(ENDPOINTS, headers=as_user("alice"))
    # then
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_endpoint_is_listed_without_its_secret_and_filters_events(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    receiver = Receiver()
    async with serving(receiver.app) as url:
        created = await create_endpoint(gql, f"{url}/hook", events=["credits.granted"])
        receiver.secret = created["secret"]
        # when
        await buy(gql, sandbox)
        await relay_until_idle(services)
    listed = (await gql.data(ENDPOINTS, headers=as_admin()))["webhookEndpoints"]
    # then
    assert created["__typename"] == "CreateWebhookEndpointSuccess"
    assert created["secret"].startswith("whsec_")
    assert listed == [created["endpoint"]]
    assert [e["type"] for e in receiver.events] == ["credits.granted"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("ftp://hooks.example/x", "url"),
        ("not a url", "url"),
        ("https://user:pw@hooks.example/x", "url"),
    ],
)
async def test_a_bad_url_is_refused_and_nothing_is_written(
    gql: GraphQLClient, url: str, field: str
) -> None:
    # when
    variables = {"input": {"url": url}}
    result = (await gql.data(CREATE_ENDPOINT, variables, headers=as_admin()))[
        "createWebhookEndpoint"
    ]
    # then
    assert result["__typename"] == "ValidationError"
    assert result["field"] == field
    assert (await gql.data(ENDPOINTS, headers=as_admin()))["webhookEndpoints"] == []


async def test_an_unknown_event_type_is_refused(gql: GraphQLClient) -> None:
    # when
    variables = {"input": {"url": "http://127.0.0.1:9/x", "events": ["payment.exploded"]}}
    result = (await gql.data(CREATE_ENDPOINT, variables, headers=as_admin()))[
        "createWebhookEndpoint"
    ]
    # then
    assert result["__typename"] == "ValidationError"
    assert result["field"] == "events"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
async def test_private_addresses_are_refused_unless_allowed(url: str) -> None:
    # when / then
    with pytest.raises(InvalidInput, match="PAYMENTS_WEBHOOK_ALLOW_PRIVATE"):
        await check_url(url, allow_private=False)
    assert await check_url(url, allow_private=True) == url


async def test_sandbox_mode_allows_private_urls_and_live_mode_does_not(settings: Settings) -> None:
    # given
    live = settings.model_copy(update={"stripe_secret_key": "sk_test_x", "sandbox": False})
    # then
    assert settings.allow_private_webhooks
    assert not live.allow_private_webhooks
    assert live.model_copy(update={"webhook_allow_private": True}).allow_private_webhooks


async def test_rotating_signs_with_the_new_secret_and_deleting_cancels_what_is_left(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    receiver = Receiver()
    async with serving(receiver.app) as url:
        created = await create_endpoint(gql, f"{url}/hook")
        endpoint_id = created["endpoint"]["id"]
        rotated = (await gql.data(ROTATE, {"input": {"id": endpoint_id}}, headers=as_admin()))[
            "rotateWebhookEndpointSecret"
        ]
        receiver.secret = rotated["secret"]
        await buy(gql, sandbox, user="alice", key="a")
        await relay_until_idle(services)
        # when
        await buy(gql, sandbox, user="bob", key="b")
        deleted = (await gql.data(DELETE, {"input": {"id": endpoint_id}}, headers=as_admin()))[
            "deleteWebhookEndpoint"
        ]
        await relay_until_idle(services)
        again = (await gql.data(DELETE, {"input": {"id": endpoint_id}}, headers=as_admin()))[
            "deleteWebhookEndpoint"
        ]
    # then
    assert rotated["secret"] != created["secret"]
    assert len(receiver.events) == 3
    assert deleted["__typename"] == "DeleteWebhookEndpointSuccess"
    assert deleted["endpoint"]["id"] == endpoint_id
    assert again["__typename"] == "NotFoundError"
    log = await deliveries(gql)
    assert sorted(e["node"]["status"] for e in log["edges"]) == ["CANCELED"] * 3 + ["DELIVERED"] * 3


async def test_the_delivery_log_pages_newest_first(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given: three deliveries
    created = await create_endpoint(gql, "http://127.0.0.1:9/unreachable")
    await buy(gql, sandbox)
    endpoint_id = created["endpoint"]["id"]
    # when
    first = await deliveries(gql, endpointId=endpoint_id, first=2)
    rest = await deliveries(
        gql, endpointId=endpoint_id, first=2, after=first["pageInfo"]["endCursor"]
    )
    # then
    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    assert rest["pageInfo"]["hasNextPage"] is False
    types = [e["node"]["eventType"] for e in first["edges"] + rest["edges"]]
    assert sorted(types) == ["credits.granted", "payment.created", "payment.succeeded"]
    assert {e["node"]["status"] for e in first["edges"] + rest["edges"]} == {"PENDING"}
