"""Rate limits (the `limits` library), in memory and in Redis shared by several processes."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import httpx
import pytest

from graphql_payments.config import DEFAULT_RATE_LIMITS, Settings
from tests.helpers import (
    CHECKOUT,
    ME,
    SHARED_SECRET,
    GraphQLClient,
    as_user,
    checkout,
    error_codes,
)
from tests.security.conftest import AppClient

PACKAGES = "{ creditPackages { id } }"
REDIS_URL = "redis://127.0.0.1:6379/0"

pytestmark = pytest.mark.usefixtures("one_rate_window")


def limits(**kinds: str) -> dict[str, str]:
    return {**DEFAULT_RATE_LIMITS, **kinds}


async def post(http: httpx.AsyncClient, query: str = PACKAGES, **headers: str) -> httpx.Response:
    return await http.post("/graphql", json={"query": query}, headers=headers)


def assert_limited(response: httpx.Response, kind: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/json"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    body = response.json()
    assert error_codes(body) == ["RATE_LIMITED"]
    assert kind in body["errors"][0]["message"]


def test_limits_are_a_setting_in_the_library_notation() -> None:
    settings = Settings(_env_file=None, rate_limits="user=5/second;100/minute stripe=3/hour")
    assert settings.rate_limits == limits(user="5/second;100/minute", stripe="3/hour")
    assert Settings(_env_file=None, rate_limits="off").rate_limits is None
    assert Settings(_env_file=None).rate_limits == DEFAULT_RATE_LIMITS


async def test_each_client_ip_has_a_limit(app_client: AppClient) -> None:
    # given
    async with app_client(rate_limits=limits(ip="3/minute")) as http:
        # when
        answers = [await post(http) for _ in range(4)]

    # then
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert_limited(answers[3], "ip")


async def test_each_user_has_a_limit_wherever_they_call_from(app_client: AppClient) -> None:
    # given
    async with app_client(rate_limits=limits(user="2/minute")) as http:
        # when
        alice = [await post(http, ME, **as_user("alice")) for _ in range(3)]
        bob = await post(http, ME, **as_user("bob"))

    # then
    assert [a.status_code for a in alice[:2]] == [200, 200]
    assert_limited(alice[2], "user")
    assert bob.status_code == 200


async def test_failed_authentication_has_a_tighter_limit(app_client: AppClient) -> None:
    # given
    bad = {"Authorization": "Bearer not-a-token"}
    async with app_client(rate_limits=limits(auth="2/minute")) as http:
        # when
        failures = [await post(http, ME, **bad) for _ in range(2)]
        then_valid = await post(http, ME, **as_user("alice"))
        anonymous = await post(http)

    # then
    assert [error_codes(f.json()) for f in failures] == [["UNAUTHENTICATED"]] * 2
    assert_limited(then_valid, "auth")
    assert anonymous.status_code == 200


async def test_mutations_that_create_stripe_objects_have_a_tighter_limit(
    app_client: AppClient,
) -> None:
    # given
    async with app_client(rate_limits=limits(stripe="2/minute")) as http:
        gql = GraphQLClient(http)
        created = [await checkout(gql, "alice", key=f"key-{i}") for i in range(2)]

        # when
        third = await http.post(
            "/graphql",
            json={
                "query": CHECKOUT,
                "variables": {
                    "input": {
                        "packageId": "basic",
                        "idempotencyKey": "key-3",
                        "successUrl": "https://shop.example/ok",
                        "cancelUrl": "https://shop.example/cancel",
                    }
                },
            },
            headers=as_user("alice"),
        )
        # (asking for a stream keeps a request on Strawberry's way: the same limit there)
        fourth = await http.post(
            "/graphql",
            content=third.request.content,
            headers={
                **as_user("alice"),
                "Content-Type": "application/json",
                "Accept": "multipart/mixed, application/json",
            },
        )
        reading = await post(http, ME, **as_user("alice"))
        bob = await checkout(gql, "bob")

    # then
    assert [c["__typename"] for c in created] == ["CheckoutSuccess"] * 2
    assert_limited(third, "stripe")
    assert third.json()["data"] is None
    assert_limited(fourth, "stripe")
    assert fourth.json()["data"] is None
    assert reading.status_code == 200
    assert bob["__typename"] == "CheckoutSuccess"


async def test_the_service_path_has_its_own_higher_limit(app_client: AppClient) -> None:
    # given
    service = {"X-Payments-Secret": SHARED_SECRET, "X-Hasura-Role": "admin"}
    async with app_client(rate_limits=limits(ip="2/minute", service="5/minute")) as http:
        # when
        answers = [await post(http, **service) for _ in range(6)]

    # then
    assert [a.status_code for a in answers[:5]] == [200] * 5
    assert_limited(answers[5], "service")


@pytest.mark.parametrize("trusted", [True, False])
async def test_forwarded_addresses_count_only_behind_a_trusted_proxy(
    app_client: AppClient, trusted: bool
) -> None:
    # given
    proxies = ["127.0.0.0/8"] if trusted else []
    async with app_client(rate_limits=limits(ip="1/minute"), trusted_proxies=proxies) as http:
        # when
        first = await post(http, **{"X-Forwarded-For": "198.51.100.1"})
        second = await post(http, **{"X-Forwarded-For": "198.51.100.2, 127.0.0.5"})

    # then
    assert first.status_code == 200
    assert second.status_code == (200 if trusted else 429)


def _redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_reachable(), reason="no Redis server on 127.0.0.1:6379")
async def test_redis_counts_for_every_process(app_client: AppClient) -> None:
    # given: two apps (as two server processes) sharing one Redis
    shared: dict[str, Any] = {
        "rate_limits": limits(ip="3/minute"),
        "rate_limit_storage": REDIS_URL,
        "rate_limit_prefix": f"payments-test-{uuid.uuid4().hex}",
    }
    async with app_client(**shared) as one, app_client(**shared) as two:
        # when
        answers = [await post(one), await post(two), await post(one), await post(two)]

    # then
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert_limited(answers[3], "ip")


async def test_an_unreachable_redis_lets_requests_through(app_client: AppClient) -> None:
    # given
    async with app_client(
        rate_limits=limits(ip="1/minute"), rate_limit_storage="redis://127.0.0.1:9/0"
    ) as http:
        # when
        answers = [await post(http) for _ in range(2)]

    # then
    assert [a.status_code for a in answers] == [200, 200]
