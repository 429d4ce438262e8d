"""Operator queries: `auditLog` and `failedWebhookEvents` (admins only)."""

from __future__ import annotations

import strawberry

from graphql_payments.graphql import permissions
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.pagination import (
    Connection,
    Edge,
    clamp_first,
    connection,
    decode_cursor,
    decode_numeric_cursor,
    encode_cursor,
)
from graphql_payments.operations.types import AuditRecordType, WebhookEventType


@strawberry.type
class OperationsQueries:
    @strawberry.field(
        description=(
            "Admins: the audit trail, newest first: every admin or service mutation and "
            "operator command that changed data, optionally of one actor or one payment."
        ),
        extensions=[permissions.AdminOnly()],
    )
    async def audit_log(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        actor_id: str | None = None,
        payment_id: strawberry.ID | None = None,
    ) -> Connection[AuditRecordType]:
        cursor = decode_numeric_cursor(after)
        page = await info.context.services.audit.page(
            actor_id=actor_id,
            payment_id=str(payment_id) if payment_id is not None else None,
            first=clamp_first(first),
            after=cursor,
        )
        edges = [
            Edge(cursor=encode_cursor(r.created_at, str(r.id)), node=AuditRecordType.of(r))
            for r in page.records
        ]
        return connection(edges, has_next=page.has_next, total=page.total)

    @strawberry.field(
        description=(
            "Admins: webhook events that exhausted their retries, newest first. They stay "
            "until replayed (`graphql-payments webhooks replay --failed`)."
        ),
        extensions=[permissions.AdminOnly()],
    )
    async def failed_webhook_events(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookEventType]:
        rows, has_next, total = await info.context.services.inbox.failed(
            first=clamp_first(first), after=decode_cursor(after) if after else None
        )
        edges = [
            Edge(cursor=encode_cursor(r.received_at, r.id), node=WebhookEventType.of(r))
            for r in rows
        ]
        return connection(edges, has_next=has_next, total=total)
