"""Chaos: the server receiving webhooks is killed (SIGKILL) in the middle of a burst of paid
checkouts, releases and refunds. Stripe (the sandbox, in its own process) keeps its state and
gives up on the deliveries. After a restart, with nobody polling, every payment reaches the
state Stripe holds within two reconciliation intervals, and `ledger verify --stripe` agrees."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphql_payments.db import Database
from graphql_payments.gateway import StripeGateway
from graphql_payments.gateway.http import http_client, stripe_client
from graphql_payments.ledger import invariants
from graphql_payments.operations.verify import verify_with_stripe
from tests.escrow.flows import AUTHORIZE, RELEASE
from tests.helpers import CHECKOUT, JWT_SECRET, as_admin, as_user, free_port

INTERVAL = 5.0
KEY = "sk_test_chaos"
SECRET = "whsec_chaos_0123456789abcdef0123456789abcdef"
CHECKOUTS = 12
ORDERS = 4
REFUNDS = 3

REFUND = """
mutation($input: RefundInput!) { refund(input: $input) { __typename } }
"""


def _env(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "PAYMENTS_"))}
    return env | more


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "graphql_payments", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _wait_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{url} did not come up:\n{log.read_text()}")  # noqa: ASYNC240
            await asyncio.sleep(0.05)


class Cluster:
    """A sandbox process (Stripe) and a server process pointed at it, on one database."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.sandbox_url = f"http://127.0.0.1:{free_port()}"
        server_port = free_port()
        self.server_url = f"http://127.0.0.1:{server_port}"
        self.log = tmp_path / "chaos.log"
        self.server_env = _env(
            PAYMENTS_DATABASE_URL=database_url,
            PAYMENTS_PORT=str(server_port),
            PAYMENTS_JWT_SECRET=JWT_SECRET,
            PAYMENTS_RECONCILE_INTERVAL=str(INTERVAL),
            PAYMENTS_RECONCILE_GRACE="1",
            PAYMENTS_STRIPE_TIMEOUT="5",
            PAYMENTS_LOG_LEVEL="INFO",
            STRIPE_SECRET_KEY=KEY,
            STRIPE_API_BASE=self.sandbox_url,
            STRIPE_WEBHOOK_SECRET=SECRET,
        )
        self.sandbox = _spawn(
            [
                "sandbox",
                "--port",
                self.sandbox_url.rsplit(":", 1)[1],
                "--webhook-url",
                f"{self.server_url}/webhooks/stripe",
                "--webhook-secret",
                SECRET,
            ],
            _env(),
            self.log,
        )
        self.server: subprocess.Popen[bytes] | None = None

    async def start_server(self) -> None:
        self.server = _spawn(["serve"], self.server_env, self.log)
        await _wait_up(f"{self.server_url}/health", self.server, self.log)

    def kill_server(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGKILL)
        self.server.wait(timeout=10)

    def stop(self) -> None:
        for process in (self.server, self.sandbox):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)

    def interesting_log(self) -> str:
        marks = ("reconcil", "WARNING", "ERROR", "->", "Traceback")
        lines = self.log.read_text().splitlines()
        return "\n".join(line for line in lines if any(mark in line for mark in marks))

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.sandbox_url, timeout=60) as client:
            response = await client.post(
                f"/control{path}", json=body or {}, headers={"Authorization": f"Bearer {KEY}"}
            )
            response.raise_for_status()
            return response.json() if response.content else None


@pytest.fixture
def cluster(database_url: str, tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(database_url, tmp_path)
    try:
        yield running
    finally:
        running.stop()


async def _graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any] | None:
    """A GraphQL call that may meet a dead server (None then)."""
    try:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    except httpx.TransportError:
        return None
    body: dict[str, Any] = response.json()
    return body.get("data")


async def _differences(database_url: str, sandbox_url: str) -> list[str]:
    db = Database(database_url)
    gateway = StripeGateway.create(KEY, api_base=sandbox_url, timeout=5, max_network_retries=0)
    try:
        return await invariants.verify(db) + await verify_with_stripe(db, gateway)
    finally:
        await gateway.aclose()
        await db.dispose()


@pytest.mark.slow
async def test_a_server_killed_mid_burst_converges_on_stripe_after_a_restart(
    cluster: Cluster, database_url: str
) -> None:
    await _wait_up(f"{cluster.sandbox_url}/v1/balance", cluster.sandbox, cluster.log)
    await cluster.start_server()
    stripe_http = http_client(timeout=10, transport=None)
    stripe = stripe_client(KEY, api_base=cluster.sandbox_url, http=stripe_http)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(stripe_http.aclose)
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=cluster.server_url, timeout=30)
        )
        # given: open checkouts, held orders and paid purchases to refund
        sessions: list[str] = []
        for n in range(CHECKOUTS + REFUNDS):
            variables = {
                "input": {
                    "packageId": "basic",
                    "idempotencyKey": f"chaos-{n}",
                    "successUrl": "https://shop.example/ok",
                    "cancelUrl": "https://shop.example/no",
                }
            }
            data = await _graphql(client, CHECKOUT, variables, as_user(f"user-{n}"))
            assert data is not None
            sessions.append(data["checkout"]["sessionId"])
        for session_id in sessions[CHECKOUTS:]:
            await cluster.control(f"/checkout/sessions/{session_id}/pay")
        accounts = []
        for n in range(ORDERS):
            account = await stripe.v1.accounts.create_async(
                params={"type": "express", "country": "US"}
            )
            await cluster.control(f"/accounts/{account.id}/onboard")
            accounts.append(account.id)
            order_input: dict[str, Any] = {
                "input": {
                    "orderId": f"order-{n}",
                    "amount": 2500,
                    "currency": "usd",
                    "paymentMethodId": "pm_card_visa",
                    "idempotencyKey": f"auth-{n}",
                }
            }
            data = await _graphql(client, AUTHORIZE, order_input, as_user(f"buyer-{n}"))
            assert data is not None
            assert data["authorize"]["__typename"] == "AuthorizeSuccess", data
        await cluster.control("/webhooks/wait_idle", {"timeout": 30})
        paid_ids = []
        for n in range(CHECKOUTS, CHECKOUTS + REFUNDS):
            found = await stripe.v1.checkout.sessions.retrieve_async(sessions[n])
            paid_ids.append(found.client_reference_id)

        # when: a burst of payments, releases and refunds, and the server dies in its middle
        # (half of the payments at least are made while it is down, however fast the rest went)
        killed = asyncio.Event()

        async def pay_all() -> None:
            for n, session_id in enumerate(sessions[:CHECKOUTS]):
                if n == CHECKOUTS // 2:
                    await killed.wait()
                await cluster.control(f"/checkout/sessions/{session_id}/pay")

        async def release_all() -> None:
            for n, account in enumerate(accounts):
                variables = {"input": {"orderId": f"order-{n}", "runnerAccountId": account}}
                await _graphql(client, RELEASE, variables, as_admin())

        async def refund_all() -> None:
            for n, payment_id in enumerate(paid_ids):
                variables = {"input": {"paymentId": payment_id, "idempotencyKey": f"r-{n}"}}
                await _graphql(client, REFUND, variables, as_admin())

        async def kill_midway() -> None:
            await asyncio.sleep(0.4)
            cluster.kill_server()
            killed.set()

        await asyncio.gather(pay_all(), release_all(), refund_all(), kill_midway())
        # Stripe retries the deliveries to the dead server and gives up
        await cluster.control("/webhooks/wait_idle", {"timeout": 60})
        assert await _differences(database_url, cluster.sandbox_url) != []

        # then: after a restart, with nobody asking, everything converges in two intervals
        await cluster.start_server()
        restarted = time.monotonic()
        differences = await _differences(database_url, cluster.sandbox_url)
        while differences and time.monotonic() - restarted < 2 * INTERVAL + 2.0:
            await asyncio.sleep(0.5)
            differences = await _differences(database_url, cluster.sandbox_url)
        assert differences == [], cluster.interesting_log()

    # and: the operator's check says the same
    verify = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "graphql_payments", "ledger", "verify", "--stripe"],
        env=cluster.server_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "ledger and Stripe ok" in verify.stdout
