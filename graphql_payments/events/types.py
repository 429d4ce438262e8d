"""GraphQL types of events: webhook endpoints and event deliveries."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from graphql_payments.events import models
from graphql_payments.events.catalogue import EventType
from graphql_payments.events.models import DeliveryStatus
from graphql_payments.graphql.errors import NotFoundError, ValidationError
from graphql_payments.graphql.pagination import Connection

strawberry.enum(
    DeliveryStatus,
    description=(
        "PENDING until a sink accepts the event (retried with backoff), then DELIVERED; DEAD "
        "after the last attempt failed (redeliver sends it again); CANCELED when its endpoint "
        "was deleted first."
    ),
)


@strawberry.type(description="Where the server POSTs signed events (Standard Webhooks).")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    description: str | None
    events: list[str] = strawberry.field(description="Event names it receives; empty: all.")
    created_at: dt.datetime

    @classmethod
    def of(cls, endpoint: models.WebhookEndpoint) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(endpoint.id),
            url=endpoint.url,
            description=endpoint.description,
            events=list(endpoint.events),
            created_at=endpoint.created_at,
        )


@strawberry.type(description="One event on its way to one sink (a webhook endpoint, the broker).")
class EventDelivery:
    id: strawberry.ID
    endpoint_id: strawberry.ID | None = strawberry.field(
        description="The webhook endpoint; null for the broker or a deleted endpoint."
    )
    sink: str = strawberry.field(description="`webhook:<endpoint id>` or `broker`.")
    event_id: str
    event_type: str
    sequence: int = strawberry.field(description="The event's number within its subject.")
    subject: str = strawberry.field(description="The payment id, or user:<id>.")
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime
    payload: JSON = strawberry.field(description="The message body, as sent.")

    @classmethod
    def of(cls, delivery: models.EventDelivery, event: models.OutboxEvent) -> EventDelivery:
        pending = delivery.status is DeliveryStatus.PENDING
        body = {"type": event.type, "timestamp": event.data.get("occurredAt"), "data": event.data}
        return cls(
            id=strawberry.ID(delivery.id),
            endpoint_id=strawberry.ID(delivery.endpoint_id) if delivery.endpoint_id else None,
            sink=delivery.sink,
            event_id=event.id,
            event_type=event.type,
            sequence=delivery.sequence,
            subject=delivery.subject,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at if pending else None,
            last_attempt_at=delivery.last_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            delivered_at=delivery.delivered_at,
            created_at=delivery.created_at,
            payload=json.loads(json.dumps(body)),
        )


EventDeliveryConnection = Connection[EventDelivery]


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="http(s) URL; loopback and private addresses need "
        "PAYMENTS_WEBHOOK_ALLOW_PRIVATE=true."
    )
    events: list[str] = strawberry.field(
        default_factory=list,
        description="Event names to send (" + ", ".join(k.value for k in EventType) + "); "
        "empty: all.",
    )
    description: str | None = None


@strawberry.type
class CreateWebhookEndpointSuccess:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="The signing secret (whsec_...): shown only now; keep it."
    )


CreateWebhookEndpointResult = Annotated[
    CreateWebhookEndpointSuccess | ValidationError,
    strawberry.union("CreateWebhookEndpointResult"),
]


@strawberry.input
class DeleteWebhookEndpointInput:
    id: strawberry.ID


@strawberry.type
class DeleteWebhookEndpointSuccess:
    endpoint: WebhookEndpoint


DeleteWebhookEndpointResult = Annotated[
    DeleteWebhookEndpointSuccess | NotFoundError,
    strawberry.union("DeleteWebhookEndpointResult"),
]


@strawberry.input
class RotateWebhookEndpointSecretInput:
    id: strawberry.ID


@strawberry.type
class RotateWebhookEndpointSecretSuccess:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(description="The new signing secret: shown only now.")


RotateWebhookEndpointSecretResult = Annotated[
    RotateWebhookEndpointSecretSuccess | NotFoundError,
    strawberry.union("RotateWebhookEndpointSecretResult"),
]


@strawberry.input
class RedeliverInput:
    delivery_id: strawberry.ID


@strawberry.type
class RedeliverSuccess:
    delivery: EventDelivery


RedeliverResult = Annotated[RedeliverSuccess | NotFoundError, strawberry.union("RedeliverResult")]
