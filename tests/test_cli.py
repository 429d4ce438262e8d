"""The `graphql-payments` command, and the server it starts, over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import stripe
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from graphql_payments.cli import main
from graphql_payments.gateway.http import http_client, stripe_client
from graphql_payments.graphql.schema import sdl
from tests.conftest import POSTGRES_URL
from tests.helpers import (
    CHECKOUT,
    JWT_SECRET,
    PAYMENT_STATUS,
    as_user,
    free_port,
    wait_until_healthy,
)


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


def test_several_workers_need_a_sandbox_outside_the_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the built-in sandbox keeps Stripe's state in one process's memory
    assert main(["serve", "--port", "1", "--workers", "2"]) == 2
    assert "PAYMENTS_WORKERS" in capsys.readouterr().err


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`graphql-payments serve` on a fresh SQLite file in sandbox mode, as `make run` starts it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "PAYMENTS_"))}
    env |= {"PAYMENTS_JWT_SECRET": JWT_SECRET, "PAYMENTS_LOG_LEVEL": "INFO"}
    process = subprocess.Popen(
        [sys.executable, "-m", "graphql_payments", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_healthy(base, process):
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"server did not start:\n{output}")
        yield base
    finally:
        process.terminate()
        logs, _ = process.communicate(timeout=15)
        # One line per start says mode, database and URL; no library talks on every call.
        starts = [line for line in logs.decode().splitlines() if "graphql_payments.app" in line]
        assert len(starts) == 1, logs.decode()
        assert "SANDBOX MODE" in starts[0]
        assert "sqlite+aiosqlite:///./payments.db" in starts[0]
        assert base in starts[0]
        for chatty in (" alembic", " stripe:", " httpx:", " uvicorn.error:"):
            assert chatty not in logs.decode(), logs.decode()


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
    port = free_port()
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
    http = http_client(timeout=5, transport=None)
    client = stripe_client("sk_test_cli", api_base=sandbox_server, http=http)
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
        await http.aclose()


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


@pytest.mark.slow
def test_sandbox_account_create_makes_a_runner_account(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # when
    code = main(["sandbox", "account", "create", "--url", f"{server}/_sandbox"])
    # then
    assert code == 0
    account = capsys.readouterr().out.strip()
    assert account.startswith("acct_")
    fetched = httpx.get(
        f"{server}/_sandbox/v1/accounts/{account}", auth=("sk_test_sandbox", "")
    ).json()
    assert fetched["capabilities"]["transfers"] == "active"


def one_line_failure(argv: list[str], capsys: pytest.CaptureFixture[str], *, code: int = 2) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("graphql-payments: ")
    assert "Traceback" not in err
    return err


def test_ledger_verify_without_a_database_says_so_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: a folder with no database, as a new user's
    monkeypatch.chdir(tmp_path)
    # when
    err = one_line_failure(["ledger", "verify"], capsys)
    # then
    assert "There is no database at payments.db" in err
    assert "graphql-payments db upgrade" in err
    assert list(tmp_path.iterdir()) == []


def test_ledger_verify_on_an_unmigrated_database_says_to_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite3.connect(tmp_path / "empty.db").close()
    monkeypatch.setenv("PAYMENTS_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    err = one_line_failure(["ledger", "verify"], capsys)
    assert "at migration none" in err
    assert "run 'graphql-payments db upgrade' first" in err


def test_an_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYMENTS_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/payments")
    for argv in (["db", "upgrade"], ["ledger", "verify"], ["serve"]):
        err = one_line_failure(argv, capsys)
        assert (
            "Cannot reach the database at postgresql+asyncpg://postgres@127.0.0.1:1/payments" in err
        )


def test_a_missing_postgres_database_says_to_create_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if POSTGRES_URL is None:
        pytest.skip("needs PAYMENTS_TEST_POSTGRES_URL (a PostgreSQL server to ask)")
    missing = make_url(POSTGRES_URL).set(database="payments_missing_db")
    monkeypatch.setenv("PAYMENTS_DATABASE_URL", missing.render_as_string(hide_password=False))
    err = one_line_failure(["db", "upgrade"], capsys)
    assert "does not exist: create it" in err


def test_a_missing_driver_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: asyncpg cannot be imported, as after a plain `pip install graphql-payments`
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    monkeypatch.setenv("PAYMENTS_DATABASE_URL", "postgresql://u@127.0.0.1/payments")
    # when
    err = one_line_failure(["db", "upgrade"], capsys)
    # then
    assert "The asyncpg driver" in err
    assert "pip install 'graphql-payments[postgres]'" in err


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PAYMENTS_PORT", "eighty", "PAYMENTS_PORT: Input should be a valid integer"),
        ("PAYMENTS_DATABASE_URL", "mysql://x/y", "PAYMENTS_DATABASE_URL must start with"),
    ],
)
def test_bad_configuration_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(name, value)
    assert expected in one_line_failure(["serve"], capsys)


@pytest.mark.parametrize(
    ("argv", "mentions"),
    [
        (["serve"], ["PAYMENTS_PORT", "PAYMENTS_DATABASE_URL", "STRIPE_SECRET_KEY", "8000"]),
        (["db", "upgrade"], ["PAYMENTS_DATABASE_URL", "sqlite+aiosqlite:///./payments.db"]),
        (["ledger", "verify"], ["PAYMENTS_DATABASE_URL", "never creates a database"]),
        (["export-schema"], ["reads no environment"]),
        (["sandbox"], ["12111", "127.0.0.1", "reads no environment"]),
        (["sandbox", "account", "create"], ["--url", "PAYMENTS_PUBLIC_URL", "default: US"]),
    ],
)
def test_every_subcommand_help_shows_defaults_environment_and_exit_codes(
    capsys: pytest.CaptureFixture[str], argv: list[str], mentions: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for mention in [*mentions, "exit codes", "2 configuration"]:
        assert mention in text, (argv, mention)


@pytest.mark.slow
def test_serve_with_workers_runs_that_many_processes(tmp_path: Path) -> None:
    # given: real-Stripe mode (an unreachable Stripe: this test makes no payment)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "PAYMENTS_"))}
    env |= {
        "PAYMENTS_LOG_LEVEL": "WARNING",
        "STRIPE_SECRET_KEY": "sk_test_workers",
        "STRIPE_WEBHOOK_SECRET": "whsec_workers_test_secret",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
    }
    # when
    process = subprocess.Popen(
        [sys.executable, "-m", "graphql_payments", "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    try:
        deadline = time.monotonic() + 60
        workers: list[str] = []
        while time.monotonic() < deadline and process.poll() is None:
            workers = children.read_text().split() if children.exists() else []
            answering = False
            with contextlib.suppress(httpx.TransportError):
                answering = httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
            if answering and len(workers) >= 2:
                break
            time.sleep(0.2)
        # then: two worker processes serve the one port
        assert len(workers) >= 2, workers
        for _ in range(4):
            assert httpx.get(f"http://127.0.0.1:{port}/health").json()["status"] == "ok"
    finally:
        process.terminate()
        process.wait(timeout=30)
