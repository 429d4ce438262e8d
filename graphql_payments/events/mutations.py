"""Event mutations (admins): webhook endpoints and redelivery."""

from __future__ import annotations

import strawberry

from graphql_payments.events.types import (
    CreateWebhookEndpointInput,
    CreateWebhookEndpointResult,
    CreateWebhookEndpointSuccess,
    DeleteWebhookEndpointInput,
    DeleteWebhookEndpointResult,
    DeleteWebhookEndpointSuccess,
    EventDelivery,
    RedeliverInput,
    RedeliverResult,
    RedeliverSuccess,
    RotateWebhookEndpointSecretInput,
    RotateWebhookEndpointSecretResult,
    RotateWebhookEndpointSecretSuccess,
    WebhookEndpoint,
)
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import mutation


@strawberry.type
class EventMutations:
    @mutation(
        description=(
            "Admins: add a webhook endpoint. Events from now on are POSTed to it, signed per "
            "Standard Webhooks with the secret returned here (only here)."
        ),
        admin=True,
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointResult:
        endpoint = await info.context.services.events.create_endpoint(
            url=input.url, events=input.events, description=input.description
        )
        return CreateWebhookEndpointSuccess(
            endpoint=WebhookEndpoint.of(endpoint), secret=endpoint.secret
        )

    @mutation(
        description="Admins: remove an endpoint; what it had still to receive is canceled.",
        admin=True,
    )
    async def delete_webhook_endpoint(
        self, info: Info, input: DeleteWebhookEndpointInput
    ) -> DeleteWebhookEndpointResult:
        endpoint = await info.context.services.events.delete_endpoint(str(input.id))
        return DeleteWebhookEndpointSuccess(endpoint=WebhookEndpoint.of(endpoint))

    @mutation(
        description="Admins: a new signing secret for an endpoint, used from now on.", admin=True
    )
    async def rotate_webhook_endpoint_secret(
        self, info: Info, input: RotateWebhookEndpointSecretInput
    ) -> RotateWebhookEndpointSecretResult:
        endpoint = await info.context.services.events.rotate_secret(str(input.id))
        return RotateWebhookEndpointSecretSuccess(
            endpoint=WebhookEndpoint.of(endpoint), secret=endpoint.secret
        )

    @mutation(
        description=(
            "Admins: send a delivery again now, whatever became of it (a dead letter, or an "
            "event the receiver lost); its attempts start over."
        ),
        admin=True,
    )
    async def redeliver(self, info: Info, input: RedeliverInput) -> RedeliverResult:
        delivery, event = await info.context.services.events.redeliver(str(input.delivery_id))
        return RedeliverSuccess(delivery=EventDelivery.of(delivery, event))
