"""Operator queries: `auditLog` and `failedWebhookEvents` (admins only)."""

from __future__ import annotations

import strawberry

from graphql_payments.graphql import permissions
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import client_error
from graphql_payments.graphql.pagination import (
    Connection,
    Edge,
    PageInfo,
    clamp_first,
    decode_cursor,
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
        cursor = None
        if after:
            moment, raw_id = decode_cursor(after)
            if not raw_id.isdigit():
                raise client_error("Invalid cursor in 'after'.", "BAD_USER_INPUT")
            cursor = (moment, int(raw_id))
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
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=page.total,
        )

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
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=total,
        )
