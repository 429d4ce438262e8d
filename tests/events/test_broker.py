"""Events to a message broker through FastStream, consumed for real from NATS JetStream,
RabbitMQ and Redis (the machine's servers on 127.0.0.1; skipped only when one cannot be
reached)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import nats
import pytest
import redis.asyncio as redis
from faststream.redis.parser.binary import BinaryMessageFormatV1
from nats.js import api
from nats.js.errors import BadRequestError
from pydantic import SecretStr

from graphql_payments.config import Settings
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.escrow.flows import authorize, release, runner_account
from tests.events.helpers import assert_valid, deliveries, in_order, relay_until_idle
from tests.helpers import GraphQLClient, as_admin
from tests.refunds.flows import buy, refund

pytestmark = pytest.mark.anyio

NATS_URL = "nats://127.0.0.1:4222"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
REDIS_URL = "redis://127.0.0.1:6379"
URLS = {"nats": NATS_URL, "rabbitmq": AMQP_URL, "redis": REDIS_URL}
PORTS = {"nats": 4222, "rabbitmq": 5672, "redis": 6379}
PURCHASE = ["payment.created", "payment.succeeded", "credits.granted"]
REFUNDED = [*PURCHASE, "payment.refunded", "credits.revoked"]
RELEASED = ["payment.created", "escrow.authorized", "escrow.released"]


def _reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=["nats", "rabbitmq", "redis"])
def broker(request: pytest.FixtureRequest) -> str:
    port = PORTS[request.param]
    if not _reachable(port):
        pytest.skip(f"{request.param} is not running on 127.0.0.1:{port}")
    return str(request.param)


@pytest.fixture
def settings(settings: Settings, broker: str) -> Settings:
    return settings.model_copy(update={"events_broker_url": SecretStr(URLS[broker])})


class Consumer:
    """Messages that reached the broker, read by a consumer of our own."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.meta: list[dict[str, Any]] = []
        self.queue: asyncio.Queue[tuple[dict[str, Any], dict[str, Any]]] = asyncio.Queue()

    async def until(self, subject: str, count: int) -> list[str]:
        async with asyncio.timeout(10):
            while len([m for m in self.messages if m["data"]["subject"] == subject]) < count:
                message, meta = await self.queue.get()
                self.messages.append(message)
                self.meta.append(meta)
        return in_order(self.messages, subject)

    async def nothing_more(self, wait: float = 1.0) -> bool:
        await asyncio.sleep(wait)
        return self.queue.empty()


@pytest.fixture
async def consumer(broker: str) -> AsyncIterator[Consumer]:
    found = Consumer()
    if broker == "nats":
        client = await nats.connect(NATS_URL)
        js = client.jetstream()
        with contextlib.suppress(BadRequestError):
            await js.add_stream(name="PAYMENTS", subjects=["payments.>"])

        async def on_message(msg: Any) -> None:
            meta = {"subject": msg.subject, "headers": dict(msg.headers or {})}
            await found.queue.put((json.loads(msg.data), meta))
            await msg.ack()

        sub = await js.subscribe(
            "payments.>",
            stream="PAYMENTS",
            cb=on_message,
            ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.NEW,
        )
        try:
            yield found
        finally:
            await sub.unsubscribe()
            # What the tests published is read; keep the shared stream small.
            await js.purge_stream("PAYMENTS")
            await client.close()
        return
    if broker == "redis":
        async for _ in _redis_consumer(found):
            yield found
        return
    connection = await aio_pika.connect_robust(AMQP_URL)
    channel = await connection.channel()
    exchange = await channel.declare_exchange("payments", aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="#")

    async def on_delivery(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            meta = {"routing_key": message.routing_key, "message_id": message.message_id}
            await found.queue.put((json.loads(message.body), meta))

    tag = await queue.consume(on_delivery)
    try:
        yield found
    finally:
        await queue.cancel(tag)
        await connection.close()


async def test_a_credit_purchase_and_its_refund_reach_the_broker_in_order(
    gql: GraphQLClient, sandbox: Sandbox, services: Services, consumer: Consumer, broker: str
) -> None:
    # given
    paid = await buy(gql, sandbox)
    await relay_until_idle(services)
    assert await consumer.until(paid["id"], 3) == PURCHASE
    # when
    await refund(gql, paid["id"], amount=1000)
    await sandbox.webhooks.wait_idle()
    await relay_until_idle(services)
    # then
    assert await consumer.until(paid["id"], 5) == REFUNDED
    for message in consumer.messages:
        assert_valid(message)
    ids = [m["data"]["eventId"] for m in consumer.messages]
    if broker == "nats":
        assert consumer.meta[0]["subject"] == "payments.payment.created"
        assert [m["headers"]["Nats-Msg-Id"] for m in consumer.meta] == ids
    elif broker == "redis":
        assert [m["headers"]["event-id"] for m in consumer.meta] == ids
    else:
        assert consumer.meta[0]["routing_key"] == "payment.created"
        assert [m["message_id"] for m in consumer.meta] == ids


async def test_an_escrow_release_reaches_the_broker_in_order(
    gql: GraphQLClient, sandbox: Sandbox, services: Services, consumer: Consumer
) -> None:
    # given
    account = await runner_account(sandbox)
    held = await authorize(gql, order="order-broker")
    # when
    await release(gql, "order-broker", runnerAccountId=account)
    await sandbox.webhooks.wait_idle()
    await relay_until_idle(services)
    # then
    assert await consumer.until(held["payment"]["id"], 3) == RELEASED


REDELIVER = """
mutation($input: RedeliverInput!) {
  redeliver(input: $input) { __typename }
}
"""


@pytest.mark.parametrize("broker", ["nats"], indirect=True)
async def test_jetstream_drops_a_republished_event_by_its_message_id(
    gql: GraphQLClient, sandbox: Sandbox, services: Services, consumer: Consumer
) -> None:
    # given
    paid = await buy(gql, sandbox)
    await relay_until_idle(services)
    assert await consumer.until(paid["id"], 3) == PURCHASE
    sent = await deliveries(gql, status="DELIVERED")
    # when
    for edge in sent["edges"]:
        variables = {"input": {"deliveryId": edge["node"]["id"]}}
        await gql.data(REDELIVER, variables, headers=as_admin())
    await relay_until_idle(services)
    # then
    assert sent["totalCount"] == 3
    assert await consumer.nothing_more()


async def _redis_consumer(found: Consumer) -> AsyncIterator[None]:
    """Read the `payments` stream from its end; entries are FastStream's binary frames."""
    client: Any = redis.from_url(REDIS_URL)
    last = "0-0"  # no stream yet: its first entry (`$` would skip what comes between reads)
    if await client.exists("payments"):
        last = (await client.xinfo_stream("payments"))["last-generated-id"].decode()

    async def read() -> None:
        nonlocal last
        while True:
            streams: list[Any] = await client.xread({"payments": last}, block=100)
            for _, entries in streams:
                for entry_id, fields in entries:
                    last = entry_id.decode()
                    body, headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
                    await found.queue.put((json.loads(body), {"headers": headers}))

    reader = asyncio.create_task(read())
    try:
        yield
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await client.aclose()
