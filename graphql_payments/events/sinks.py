"""Where events go: Standard Webhooks over HTTP, and a message broker through FastStream.

A sink's `send` returns normally when the event was accepted and raises `DeliveryFailed`
otherwise; the relay records the attempt and retries later.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
from standardwebhooks import Webhook

from graphql_payments import __version__, validation
from graphql_payments.errors import InvalidInput

log = logging.getLogger(__name__)

STREAM = "PAYMENTS"
EXCHANGE = "payments"
REDIS_STREAM = "payments"


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def message_body(event_type: str, data: dict[str, object]) -> bytes:
    """The Standard Webhooks body: `{"type", "timestamp", "data"}`, the same for every sink."""
    body = {"type": event_type, "timestamp": data["occurredAt"], "data": data}
    return json.dumps(body, separators=(",", ":"), sort_keys=False).encode()


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_url(url: str, *, allow_private: bool) -> str:
    """The URL if it may receive webhooks: http(s), and a public address unless allowed.

    Host names are resolved, so a name pointing at a private address is refused too; the
    relay checks again before each delivery (the name may have changed).
    """
    url = validation.redirect_url(url, field="url", allowed_hosts=[])
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise InvalidInput("url must not carry credentials.", field="url")
    if allow_private:
        return url
    host = parts.hostname or ""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, parts.port or 443, type=socket.SOCK_STREAM
            )
        except OSError:
            raise InvalidInput(f"The host {host!r} does not resolve.", field="url") from None
        addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses or not all(_public(a) for a in addresses):
        raise InvalidInput(
            "The URL points at a loopback or private address; set "
            "PAYMENTS_WEBHOOK_ALLOW_PRIVATE=true to allow it.",
            field="url",
        )
    return url


class WebhookSink:
    """POSTs signed events to an endpoint, per the Standard Webhooks specification."""

    def __init__(self, *, timeout: float, allow_private: bool) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self.client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            headers={"user-agent": f"graphql-payments/{__version__}"},
        )

    async def send(
        self, *, url: str, secret: str, event_id: str, event_type: str, body: bytes
    ) -> int:
        try:
            await check_url(url, allow_private=self.allow_private)
        except InvalidInput as exc:
            raise DeliveryFailed(exc.message) from None
        now = dt.datetime.now(dt.UTC)
        signature = Webhook(secret).sign(event_id, now, body.decode())
        headers = {
            "content-type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.post(url, content=body, headers=headers)
        except TimeoutError:
            raise DeliveryFailed(f"no answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(
                f"HTTP {response.status_code}: {response.text[:200]}",
                status_code=response.status_code,
            )
        return response.status_code

    async def aclose(self) -> None:
        await self.client.aclose()


class BrokerSink:
    """Publishes events to NATS JetStream, RabbitMQ, Kafka or Redis through FastStream.

    Names: NATS subject and Kafka topic `payments.<event name>` (JetStream stream `PAYMENTS`,
    created when missing, subjects `payments.>`); RabbitMQ durable topic exchange `payments`
    with the event name as routing key; Redis stream `payments`. The message id is the event
    id (`Nats-Msg-Id` on NATS, so JetStream drops a retried duplicate).
    """

    def __init__(self, url: str, *, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.scheme = url.split("://", 1)[0]
        self._broker: Any = None
        self._exchange: Any = None
        self._lock = asyncio.Lock()

    async def _connect(self) -> Any:
        async with self._lock:
            if self._broker is not None:
                return self._broker
            try:
                broker = await self._open()
            except ImportError:
                raise DeliveryFailed(
                    "PAYMENTS_EVENTS_BROKER_URL needs the events extra: "
                    "pip install 'graphql-payments[events]'"
                ) from None
            self._broker = broker
            return broker

    async def _open(self) -> Any:
        if self.scheme in ("nats", "tls"):
            from faststream.nats import NatsBroker
            from nats.js.errors import BadRequestError

            broker: Any = NatsBroker(self.url, logger=None)
            await broker.connect()
            stream = broker.config.connection_state.stream
            try:
                await stream.add_stream(name=STREAM, subjects=["payments.>"])
            except BadRequestError:
                # It exists with another configuration (more subjects, retention): keep it.
                await stream.stream_info(STREAM)
            return broker
        if self.scheme in ("amqp", "amqps"):
            from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange

            broker = RabbitBroker(self.url, logger=None)
            await broker.connect()
            self._exchange = RabbitExchange(EXCHANGE, type=ExchangeType.TOPIC, durable=True)
            await broker.declare_exchange(self._exchange)
            return broker
        if self.scheme == "kafka":
            from faststream.kafka import KafkaBroker

            broker = KafkaBroker(self.url.split("://", 1)[1].rstrip("/"), logger=None)
            await broker.connect()
            return broker
        from faststream.redis import RedisBroker

        broker = RedisBroker(self.url, logger=None)  # type: ignore[arg-type]
        await broker.connect()
        return broker

    async def send(self, *, event_id: str, event_type: str, subject: str, body: bytes) -> None:
        broker = await self._connect()
        headers = {"event-id": event_id, "event-type": event_type, "event-subject": subject}
        try:
            async with asyncio.timeout(self.timeout):
                await self._publish(broker, event_id, event_type, subject, body, headers)
        except DeliveryFailed:
            raise
        except Exception as exc:
            await self._reset()
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None

    async def _publish(
        self,
        broker: Any,
        event_id: str,
        event_type: str,
        subject: str,
        body: bytes,
        headers: dict[str, str],
    ) -> None:
        name = f"payments.{event_type}"
        if self.scheme in ("nats", "tls"):
            await broker.publish(
                body,
                subject=name,
                headers={**headers, "Nats-Msg-Id": event_id},
                stream=STREAM,
                correlation_id=event_id,
            )
        elif self.scheme in ("amqp", "amqps"):
            await broker.publish(
                body,
                exchange=self._exchange,
                routing_key=event_type,
                message_id=event_id,
                correlation_id=event_id,
                headers=headers,
                content_type="application/json",
                persist=True,
                mandatory=False,
            )
        elif self.scheme == "kafka":
            await broker.publish(
                body, topic=name, key=subject.encode(), headers=headers, correlation_id=event_id
            )
        else:
            await broker.publish(
                body, stream=REDIS_STREAM, headers=headers, correlation_id=event_id
            )

    async def _reset(self) -> None:
        async with self._lock:
            broker, self._broker = self._broker, None
        if broker is not None:
            try:
                await broker.stop()
            except Exception:
                log.debug("closing the broker connection failed", exc_info=True)

    async def aclose(self) -> None:
        await self._reset()
