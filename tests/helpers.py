"""Test helpers: tokens, a GraphQL client over HTTP, signed webhook bodies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import stripe
import uvicorn
from starlette.types import ASGIApp

from graphql_payments.app import create_app
from graphql_payments.config import Settings
from graphql_payments.gateway import sign_webhook
from graphql_payments.gateway.http import stripe_client
from graphql_payments.sandbox import Sandbox

JWT_SECRET = "test-jwt-secret-with-enough-length-for-hs256"
SHARED_SECRET = "test-shared-secret"
WEBHOOK_SECRET = "whsec_testsecret"
HASURA = "https://hasura.io/jwt/claims"


def token(
    user_id: str,
    *,
    role: str = "user",
    ttl: int = 3600,
    secret: str = JWT_SECRET,
    hasura: bool = True,
) -> str:
    claims: dict[str, Any] = {
        "sub": user_id,
        "iat": int(time.time()),
        "exp": int(time.time()) + ttl,
    }
    if hasura:
        claims[HASURA] = {
            "x-hasura-user-id": user_id,
            "x-hasura-default-role": role,
            "x-hasura-allowed-roles": [role],
        }
    return jwt.encode(claims, secret, algorithm="HS256")


def as_user(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user_id)}"}


def as_admin(user_id: str = "admin-1") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user_id, role='admin')}"}


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The `data` of a response that must have no errors."""
        body = await self(query, variables, headers=headers)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


def signed(
    event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event)
    header = sign_webhook(body, secret, timestamp=timestamp)
    return body.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


CHECKOUT = """
mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) {
    __typename
    ... on CheckoutSuccess {
      checkoutUrl
      sessionId
      payment { id status credits amount { amount currency } }
    }
    ... on UserError { code message }
    ... on ValidationError { field }
    ... on PaymentProviderError { retryable stripeCode }
  }
}
"""

PAYMENT_FIELDS = """
  id userId kind status credits packageId description
  amount { amount currency formatted }
  refundedAmount { amount currency }
  failureCode declineCode failureMessage
  stripePaymentIntentId stripeCheckoutSessionId receiptUrl createdAt updatedAt
"""

FAILURES = """
query($since: DateTime, $first: Int, $after: String) {
  failedPayments(since: $since, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { source code declineCode message occurredAt payment { id status kind } } }
  }
}
"""

PAYMENT_STATUS = f"""
query Status($id: ID, $session: String, $order: String) {{
  paymentStatus(id: $id, checkoutSessionId: $session, orderId: $order) {{ {PAYMENT_FIELDS} }}
}}
"""

ME = "query { me { userId role creditsBalance } }"


async def checkout(
    gql: GraphQLClient,
    user_id: str = "alice",
    *,
    package_id: str | None = "basic",
    credits: int | None = None,
    key: str = "key-1",
    success_url: str = "https://shop.example/success?session={CHECKOUT_SESSION_ID}",
    cancel_url: str = "https://shop.example/cancel",
) -> dict[str, Any]:
    """The `checkout` result for one user (a dict with __typename)."""
    data = await gql.data(
        CHECKOUT,
        {
            "input": {
                "packageId": package_id,
                "credits": credits,
                "idempotencyKey": key,
                "successUrl": success_url,
                "cancelUrl": cancel_url,
            }
        },
        headers=as_user(user_id),
    )
    result: dict[str, Any] = data["checkout"]
    return result


async def payment_status(gql: GraphQLClient, payment_id: str, user_id: str = "alice") -> Any:
    data = await gql.data(PAYMENT_STATUS, {"id": payment_id}, headers=as_user(user_id))
    return data["paymentStatus"]


async def balance(gql: GraphQLClient, user_id: str = "alice") -> int:
    data = await gql.data(ME, headers=as_user(user_id))
    return int(data["me"]["creditsBalance"])


def sandbox_client(sandbox: Sandbox) -> stripe.StripeClient:
    """A real Stripe SDK client on the app's sandbox, for looking at what Stripe holds."""
    return stripe_client(
        "sk_test_sandbox",
        api_base="http://sandbox.test",
        transport=httpx.ASGITransport(app=sandbox.app),
    )


@contextlib.asynccontextmanager
async def app_http(
    settings: Settings, client_host: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app of its own made with `settings`, closed (limiter, services) after."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://payments.test") as c:
            yield c
    finally:
        await app.state.limiter.aclose()
        await app.state.services.aclose()


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, lifespan="off", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(
    base: str, process: subprocess.Popen[bytes], *, timeout: float = 30.0
) -> bool:
    """Whether the server at `base` answered `/health` before it exited or `timeout` passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return True
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.1)
