"""A server process killed (SIGKILL) after committing a payment, while it was publishing the
event, loses nothing: another server process on the same database publishes it, in order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from tests.events.helpers import CREATE_ENDPOINT, Receiver, in_order
from tests.helpers import CHECKOUT, JWT_SECRET, as_admin, as_user, free_port, serving

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@contextlib.asynccontextmanager
async def server(database: Path, port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYMENTS_", "STRIPE_"))}
    env.update(
        PAYMENTS_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        PAYMENTS_JWT_SECRET=JWT_SECRET,
        PAYMENTS_PORT=str(port),
        PAYMENTS_EVENTS_TIMEOUT="1",
        PAYMENTS_LOG_LEVEL="WARNING",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "graphql_payments", "serve", env=env
    )
    try:
        async with httpx.AsyncClient() as client, asyncio.timeout(30):
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"http://127.0.0.1:{port}/health")).is_success:
                        break
                await asyncio.sleep(0.1)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def wait_until(condition: Callable[[], bool], *, tries: int = 300) -> None:
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the condition did not come true in time")


def pending(database: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute(
            "SELECT e.type FROM event_deliveries d JOIN outbox_events e "
            "ON e.position = d.event_position WHERE d.status = 'PENDING' ORDER BY e.position"
        ).fetchall()
    return [row[0] for row in rows]


class KillingReceiver(Receiver):
    """Kills the server the first time it is sent `payment.succeeded`, and answers nothing."""

    victim: asyncio.subprocess.Process | None = None
    killed: bool = False

    async def receive(self, request: Request) -> Response:
        event_type = json.loads(await request.body())["type"]
        if event_type == "payment.succeeded" and not self.killed:
            assert self.victim is not None
            self.victim.send_signal(signal.SIGKILL)
            self.killed = True
            return Response(status_code=500)
        return await super().receive(request)


async def test_a_server_killed_while_publishing_publishes_after_restart(tmp_path: Path) -> None:
    # given: a server with a webhook endpoint
    database = tmp_path / "payments.db"
    port = free_port()
    receiver = KillingReceiver()
    async with (
        serving(receiver.app) as receiver_url,
        server(database, port) as first,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        receiver.victim = first
        created = await http.post(
            "/graphql",
            json={
                "query": CREATE_ENDPOINT,
                "variables": {"input": {"url": f"{receiver_url}/hook"}},
            },
            headers=as_admin(),
        )
        receiver.secret = created.json()["data"]["createWebhookEndpoint"]["secret"]
        started = await http.post(
            "/graphql",
            json={
                "query": CHECKOUT,
                "variables": {
                    "input": {
                        "packageId": "basic",
                        "idempotencyKey": "kill-1",
                        "successUrl": "https://shop.example/ok",
                        "cancelUrl": "https://shop.example/no",
                    }
                },
            },
            headers=as_user("alice"),
        )
        checkout = started.json()["data"]["checkout"]
        # when: the payment commits, and the server dies while publishing its success
        paid = await http.post(
            f"/_sandbox/checkout/sessions/{checkout['sessionId']}/pay",
            data={"card": "4242424242424242"},
        )
        assert paid.status_code < 400, paid.text
        await asyncio.wait_for(first.wait(), 30)
        assert receiver.killed
        assert pending(database) == ["payment.succeeded", "credits.granted"]
        # and another server process starts on the same database
        async with server(database, free_port()):
            await wait_until(lambda: len(receiver.events) == 3 and not pending(database))
    # then
    assert in_order(receiver.events, checkout["payment"]["id"]) == [
        "payment.created",
        "payment.succeeded",
        "credits.granted",
    ]
