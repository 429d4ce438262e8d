"""Event queries (admins): `webhookEndpoints`, `webhookDeliveries`."""

from __future__ import annotations

import strawberry

from graphql_payments.events.models import DeliveryStatus
from graphql_payments.events.types import EventDelivery, EventDeliveryConnection, WebhookEndpoint
from graphql_payments.graphql import permissions
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.pagination import (
    Edge,
    PageInfo,
    clamp_first,
    decode_cursor,
    encode_cursor,
)


@strawberry.type
class EventQueries:
    @strawberry.field(
        description="Admins: every webhook endpoint, oldest first.",
        extensions=[permissions.AdminOnly()],
    )
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        rows = await info.context.services.events.endpoints()
        return [WebhookEndpoint.of(e) for e in rows]

    @strawberry.field(
        description=(
            "Admins: the delivery log, newest first: one endpoint's (endpointId), or every "
            "sink's including the broker. status: DEAD lists the dead letters."
        ),
        extensions=[permissions.AdminOnly()],
    )
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID | None = None,
        status: DeliveryStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> EventDeliveryConnection:
        page = await info.context.services.events.deliveries(
            endpoint_id=str(endpoint_id) if endpoint_id is not None else None,
            status=status,
            first=clamp_first(first),
            after=decode_cursor(after) if after else None,
        )
        edges = [
            Edge(cursor=encode_cursor(d.created_at, d.id), node=EventDelivery.of(d, e))
            for d, e in page.rows
        ]
        return EventDeliveryConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=page.total,
        )
