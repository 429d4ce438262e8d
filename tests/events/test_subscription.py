"""`paymentUpdated` over graphql-transport-ws, served by uvicorn on a real socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from graphql_payments.app import create_app
from graphql_payments.config import Settings
from graphql_payments.payments import repository as payments
from graphql_payments.payments.models import PaymentStatus
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.helpers import GraphQLClient, as_user, checkout, serving
from tests.refunds.flows import buy

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SUBSCRIPTION = "subscription($id: ID!) { paymentUpdated(id: $id) { id status credits } }"
PROTOCOL = Subprotocol("graphql-transport-ws")


@asynccontextmanager
async def socket(url: str, payload: dict[str, Any]) -> AsyncIterator[ClientConnection]:
    async with connect(url.replace("http", "ws") + "/graphql", subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        yield ws


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return message


async def subscribe(ws: ClientConnection, payment_id: str) -> None:
    ack = await receive(ws)
    assert ack["type"] == "connection_ack", ack
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIPTION, "variables": {"id": payment_id}},
            }
        )
    )


async def test_a_checkout_paid_in_the_sandbox_shows_pending_then_succeeded(
    app: Starlette, gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    started = await checkout(gql, "alice")
    payment_id = started["payment"]["id"]
    async with serving(app) as url, socket(url, as_user("alice")) as ws:
        await subscribe(ws, payment_id)
        first = await receive(ws)
        # when
        await sandbox.pay_checkout_session(started["sessionId"], card="4242424242424242")
        second = await receive(ws)
    # then
    assert first["type"] == "next", first
    assert first["payload"]["data"]["paymentUpdated"]["status"] == "PENDING"
    assert second["payload"]["data"]["paymentUpdated"] == {
        "id": payment_id,
        "status": "SUCCEEDED",
        "credits": 100,
    }


async def test_credentials_may_come_as_hasura_headers_and_others_see_nothing(
    app: Starlette, gql: GraphQLClient
) -> None:
    # given
    started = await checkout(gql, "alice")
    async with serving(app) as url, socket(url, {"headers": as_user("mallory")}) as ws:
        # when
        await subscribe(ws, started["payment"]["id"])
        answer = await receive(ws)
    # then
    assert answer["type"] == "next", answer
    assert answer["payload"]["data"] is None
    assert answer["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_bad_credentials_close_the_connection(app: Starlette) -> None:
    # given
    async with serving(app) as url, socket(url, {"Authorization": "Bearer nonsense"}) as ws:
        # when
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    # then
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_a_change_made_by_another_server_process_is_seen(
    app: Starlette, gql: GraphQLClient, sandbox: Sandbox, settings: Settings
) -> None:
    # given: alice watches her paid purchase on this server
    paid = await buy(gql, sandbox)
    other: Services = create_app(settings).state.services
    try:
        async with serving(app) as url, socket(url, as_user("alice")) as ws:
            await subscribe(ws, paid["id"])
            first = await receive(ws)
            # when: another server (its own engine, its own feed) changes the payment
            async with other.db.transaction() as session:
                payment = await payments.lock(session, paid["id"])
                payment.status = PaymentStatus.DISPUTED
            second = await receive(ws)
    finally:
        await other.aclose()
    # then
    assert first["payload"]["data"]["paymentUpdated"]["status"] == "SUCCEEDED"
    assert second["payload"]["data"]["paymentUpdated"]["status"] == "DISPUTED"
