"""Two scheduler sweeps started at the same instant in two processes (`graphql-payments autopay
run`) on PostgreSQL charge each period once.

The sandbox runs here over real HTTP, standing in for Stripe for this test's server and for the
two processes alike (their clock is the sandbox's, read over its control API)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from graphql_payments.app import create_app
from graphql_payments.autopay.models import AutopayPeriod
from graphql_payments.config import Settings
from graphql_payments.sandbox import Sandbox, running
from graphql_payments.services import Services
from tests.autopay.flows import (
    add_payment_method,
    autopay,
    autopay_payments,
    quiet_day,
    set_autopay,
)
from tests.conftest import POSTGRES_URL
from tests.helpers import JWT_SECRET, WEBHOOK_SECRET, GraphQLClient, balance

pytestmark = pytest.mark.skipif(
    POSTGRES_URL is None, reason="needs PostgreSQL: set PAYMENTS_TEST_POSTGRES_URL"
)

STRIPE_KEY = "sk_test_two_processes"

# Each process imports everything, says it is ready, and sweeps when told to go.
SWEEPER = """
import sys
from graphql_payments.cli import main
print("ready", flush=True)
sys.stdin.readline()
sys.exit(main(["autopay", "run"]))
"""


@pytest.fixture
def pg_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("this test is about PostgreSQL")
    return database_url


@pytest.fixture
async def stripe_url() -> AsyncIterator[tuple[Sandbox, str]]:
    sandbox = Sandbox()
    async with running(sandbox) as url:
        yield sandbox, url
    await sandbox.aclose()


@pytest.fixture
async def server(pg_url: str, stripe_url: tuple[Sandbox, str]) -> AsyncIterator[Starlette]:
    sandbox, url = stripe_url
    settings = Settings(
        database_url=pg_url,
        public_url="http://payments.test",
        jwt_secret=JWT_SECRET,
        stripe_secret_key=STRIPE_KEY,
        stripe_api_base=url,
        stripe_webhook_secret=[WEBHOOK_SECRET],
        stripe_max_retries=0,
    )
    app = create_app(settings)
    sandbox.add_webhook_endpoint(
        "http://payments.test/webhooks/stripe",
        secret=WEBHOOK_SECRET,
        transport=httpx.ASGITransport(app=app),
    )
    yield app
    await sandbox.webhooks.wait_idle()
    await app.state.services.aclose()


async def _sweep_in_two_processes(pg_url: str, stripe_base: str) -> list[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PAYMENTS_", "STRIPE_"))},
        "PAYMENTS_DATABASE_URL": pg_url,
        "STRIPE_SECRET_KEY": STRIPE_KEY,
        "STRIPE_API_BASE": stripe_base,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PAYMENTS_LOG_LEVEL": "WARNING",
    }
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SWEEPER,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for process in processes:
        assert process.stdout is not None
        assert (await asyncio.wait_for(process.stdout.readline(), 60)).strip() == b"ready"
    for process in processes:  # released at the same moment
        assert process.stdin is not None
        process.stdin.write(b"go\n")
    for process in processes:
        assert process.stdin is not None
        await process.stdin.drain()
    outputs = []
    for process in processes:
        out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, err.decode()
        outputs.append(out.decode().strip().splitlines()[-1])
    return outputs


async def test_two_sweeps_at_once_in_two_processes_charge_each_period_once(
    pg_url: str, stripe_url: tuple[Sandbox, str], server: Starlette
) -> None:
    # given: a saved card and a monthly autopay on the 10th
    sandbox, stripe_base = stripe_url
    services: Services = server.state.services
    transport = httpx.ASGITransport(app=server)
    async with httpx.AsyncClient(transport=transport, base_url="http://payments.test") as http:
        gql = GraphQLClient(http)
        year = quiet_day(sandbox).year + 1
        started = await add_payment_method(gql)
        await sandbox.pay_checkout_session(started["sessionId"], "4242424242424242")
        await sandbox.webhooks.wait_idle()
        created = await set_autopay(gql, packageId="basic", dayOfMonth=10, idempotencyKey="p-1")
        assert created["__typename"] == "AutopaySuccess", created
        await services.autopay.wait_idle()

        for month in (1, 2):
            # when: the 10th comes, and two processes sweep at the same instant
            due = dt.datetime(year, month, 10, 1, tzinfo=dt.UTC)
            await sandbox.advance_clock(int(due.timestamp()) - sandbox.clock.now())
            outputs = await _sweep_in_two_processes(pg_url, stripe_base)
            await sandbox.webhooks.wait_idle()

            # then: one of them charged the period, once
            charged = sorted(int(line.split(", ")[1].split()[0]) for line in outputs)
            assert charged == [0, 1], outputs
            assert await balance(gql) == 100 * month
            assert [p["status"] for p in await autopay_payments(gql)] == ["SUCCEEDED"] * month

        intents = [i for i in sandbox.objects("payment_intent") if i["metadata"]]
        assert sorted(i["metadata"]["payments_period"] for i in intents) == [
            f"{year}-01",
            f"{year}-02",
        ]
        async with services.db.reading() as session:
            periods = await session.execute(select(func.count(AutopayPeriod.id)))
            assert periods.scalar_one() == 2
        assert (await autopay(gql))["nextChargeAt"] == f"{year}-03-10T00:00:00+00:00"
        assert await services.credits.verify_ledger() == []
