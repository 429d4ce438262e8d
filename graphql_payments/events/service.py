"""What admins do with events: webhook endpoints, the delivery log, redelivery."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments import validation
from graphql_payments.config import Settings
from graphql_payments.db import Database, utcnow
from graphql_payments.errors import DeliveryNotFound, InvalidInput, WebhookEndpointNotFound
from graphql_payments.events import repository
from graphql_payments.events.catalogue import EventType
from graphql_payments.events.models import (
    DeliveryStatus,
    EventDelivery,
    OutboxEvent,
    WebhookEndpoint,
    new_signing_secret,
)
from graphql_payments.events.relay import Relay
from graphql_payments.events.sinks import check_url

MAX_PAGE = 100
EVENT_NAMES = frozenset(kind.value for kind in EventType)


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    rows: list[tuple[EventDelivery, OutboxEvent]]
    has_next: bool
    total: int


class EventService:
    def __init__(self, db: Database, settings: Settings, relay: Relay) -> None:
        self.db = db
        self.settings = settings
        self.relay = relay

    async def create_endpoint(
        self, *, url: str, events: list[str], description: str | None
    ) -> WebhookEndpoint:
        """A new endpoint and its signing secret (shown to the admin once)."""
        checked = await check_url(url, allow_private=self.settings.allow_private_webhooks)
        unknown = sorted(set(events) - EVENT_NAMES)
        if unknown:
            raise InvalidInput(f"Unknown event types: {', '.join(unknown)}.", field="events")
        description = validation.optional_text(description, "description")
        async with self.db.transaction() as session:
            return await repository.add_endpoint(
                session,
                WebhookEndpoint(
                    url=checked,
                    events=sorted(set(events)),
                    description=description,
                    secret=new_signing_secret(),
                ),
            )

    async def endpoints(self) -> list[WebhookEndpoint]:
        async with self.db.reading() as session:
            return await repository.endpoints(session)

    async def delete_endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        async with self.db.transaction() as session:
            endpoint = await self._endpoint(session, endpoint_id)
            await repository.delete_endpoint(session, endpoint)
            return endpoint

    async def rotate_secret(self, endpoint_id: str) -> WebhookEndpoint:
        """A new signing secret; deliveries from now on are signed with it."""
        async with self.db.transaction() as session:
            endpoint = await self._endpoint(session, endpoint_id)
            endpoint.secret = new_signing_secret()
            await session.flush()
            return endpoint

    async def deliveries(
        self,
        *,
        endpoint_id: str | None,
        status: DeliveryStatus | None,
        first: int,
        after: tuple[dt.datetime, str] | None,
    ) -> DeliveryPage:
        async with self.db.reading() as session:
            rows, has_next, total = await repository.deliveries(
                session,
                endpoint_id=endpoint_id,
                status=status,
                first=max(0, min(first, MAX_PAGE)),
                after=after,
            )
        return DeliveryPage(rows, has_next, total)

    async def redeliver(self, delivery_id: str) -> tuple[EventDelivery, OutboxEvent]:
        """Queue a delivery again now (a dead letter, or one the receiver lost)."""
        async with self.db.transaction() as session:
            if not await repository.redeliver(session, delivery_id, now=utcnow()):
                raise DeliveryNotFound(f"No delivery {delivery_id!r} that can be sent again.")
        async with self.db.reading() as session:
            delivery = await repository.get_delivery(session, delivery_id)
            assert delivery is not None
            event = await session.get(OutboxEvent, delivery.event_position)
            assert event is not None
            return delivery, event

    @staticmethod
    async def _endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint:
        endpoint = await repository.get_endpoint(session, endpoint_id)
        if endpoint is None:
            raise WebhookEndpointNotFound(f"No webhook endpoint {endpoint_id!r}.")
        return endpoint
