"""GraphQL types of the operator's views: the audit trail and failed webhook events."""

from __future__ import annotations

import datetime as dt

import strawberry

from graphql_payments.operations.models import AuditRecord
from graphql_payments.webhooks.models import WebhookEvent


@strawberry.type(description="One change made by an admin, a service or an operator command.")
class AuditRecordType:
    id: strawberry.ID
    occurred_at: dt.datetime
    actor_id: str | None = strawberry.field(description="The user id of who acted, if any.")
    actor_role: str = strawberry.field(description="admin, user, service or operator.")
    authenticated_by: str = strawberry.field(description="jwt, shared_secret or cli.")
    action: str = strawberry.field(description="The mutation or command (refund, release, ...).")
    payment_id: strawberry.ID | None
    input: str = strawberry.field(description="The input, as JSON.")
    result: str = strawberry.field(description="How it ended (success or error code), as JSON.")
    request_id: str | None

    @classmethod
    def of(cls, row: AuditRecord) -> AuditRecordType:
        return cls(
            id=strawberry.ID(str(row.id)),
            occurred_at=row.created_at,
            actor_id=row.actor_id,
            actor_role=row.actor_role,
            authenticated_by=row.authenticated_by,
            action=row.action,
            payment_id=strawberry.ID(row.payment_id) if row.payment_id else None,
            input=row.input,
            result=row.result,
            request_id=row.request_id,
        )


@strawberry.type(
    description=(
        "A Stripe event that exhausted its processing retries. `graphql-payments webhooks "
        "replay --failed` processes it again."
    )
)
class WebhookEventType:
    id: strawberry.ID = strawberry.field(description="Stripe's event id (evt_...).")
    type: str
    object_id: str | None
    attempts: int
    last_error: str | None
    received_at: dt.datetime
    stripe_created_at: dt.datetime | None

    @classmethod
    def of(cls, row: WebhookEvent) -> WebhookEventType:
        return cls(
            id=strawberry.ID(row.id),
            type=row.type,
            object_id=row.object_id,
            attempts=row.attempts,
            last_error=row.last_error,
            received_at=row.received_at,
            stripe_created_at=row.stripe_created_at,
        )
