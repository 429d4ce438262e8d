"""The `graphql-payments` command, and the server it starts, over real HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import stripe
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from graphql_payments.cli import main
from graphql_payments.gateway.http import StripeHTTPClient, stripe_client
from graphql_payments.graphql.schema import sdl
from tests.helpers import CHECKOUT, JWT_SECRET, PAYMENT_STATUS, as_user


def test_export_schema_prints_the_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-schema"]) == 0
    assert capsys.readouterr().out == sdl()


def test_db_upgrade_creates_the_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("PAYMENTS_DATABASE_URL", url)
    # when
    assert main(["db", "upgrade"]) == 0

    # then
    async def tables() -> set[str]:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        return names

    assert {"payments", "credit_entries", "webhook_events", "customers"} <= asyncio.run(tables())


def test_a_contradictory_configuration_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_0000")
    monkeypatch.setenv("PAYMENTS_SANDBOX", "true")
    assert main(["serve", "--port", "1"]) == 2
    assert "live key" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`graphql-payments serve` on a fresh SQLite file in sandbox mode, as `make run` starts it."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "PAYMENTS_"))}
    env |= {"PAYMENTS_JWT_SECRET": JWT_SECRET, "PAYMENTS_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "graphql_payments", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"server did not start:\n{output}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        logs, _ = process.communicate(timeout=15)
        assert b"SANDBOX MODE" in logs


@pytest.mark.slow
def test_serve_runs_a_purchase_end_to_end_over_http(server: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        # given: a fresh SQLite file, migrated by serve itself
        assert (tmp_path / "payments.db").exists()
        assert client.get("/health").json()["database"] == "ok"
        assert "graphiql" in client.get("/graphql", headers={"Accept": "text/html"}).text.lower()
        # when: a user checks out and pays on the sandbox's hosted page
        checkout = client.post(
            "/graphql",
            headers=as_user("eve"),
            json={
                "query": CHECKOUT,
                "variables": {
                    "input": {
                        "packageId": "basic",
                        "idempotencyKey": "e2e",
                        "successUrl": "https://shop.example/ok",
                        "cancelUrl": "https://shop.example/no",
                    }
                },
            },
        ).json()["data"]["checkout"]
        page = client.get(checkout["checkoutUrl"].removeprefix(server))
        assert page.status_code == 200
        paid = client.post(
            f"/_sandbox/checkout/sessions/{checkout['sessionId']}/pay",
            data={"card": "4242424242424242"},
        )
        assert paid.status_code == 303
        assert paid.headers["location"] == "https://shop.example/ok"
        # then: the webhook reached the server and credited the user
        deadline = time.monotonic() + 10
        while True:
            status = client.post(
                "/graphql",
                headers=as_user("eve"),
                json={"query": PAYMENT_STATUS, "variables": {"id": checkout["payment"]["id"]}},
            ).json()["data"]["paymentStatus"]["status"]
            me = client.post(
                "/graphql", headers=as_user("eve"), json={"query": "{ me { creditsBalance } }"}
            ).json()["data"]["me"]
            if me["creditsBalance"] == 100 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == "SUCCEEDED"
        assert me["creditsBalance"] == 100


@pytest.fixture
def sandbox_server() -> Iterator[str]:
    """`graphql-payments sandbox` on a free port."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "PAYMENTS_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "graphql_payments", "sandbox", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.mark.slow
async def test_the_sandbox_runs_alone_as_a_stripe_stand_in(sandbox_server: str) -> None:
    http_client = StripeHTTPClient(timeout=5)
    client = stripe_client("sk_test_cli", api_base=sandbox_server, http_client=http_client)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                # when: a program uses the real SDK against it
                customer = await client.v1.customers.create_async(params={"email": "a@example.com"})
                break
            except stripe.APIConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("sandbox did not start")
                await asyncio.sleep(0.1)
        # then
        assert customer.id.startswith("cus_")
        fetched = await client.v1.customers.retrieve_async(customer.id)
        assert fetched.email == "a@example.com"
    finally:
        await http_client.aclose()


def test_autopay_run_sweeps_once_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: a fresh database, nothing due
    monkeypatch.setenv("PAYMENTS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cron.db'}")

    # when
    code = main(["autopay", "run"])

    # then
    assert code == 0
    assert capsys.readouterr().out.strip() == (
        "autopay sweep: 0 due, 0 charged, 0 succeeded, 0 declined, 0 need the customer"
    )
