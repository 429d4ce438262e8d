"""Payment queries: `paymentStatus` and `paymentHistory`."""

from __future__ import annotations

import datetime as dt

import strawberry

from graphql_payments.graphql import permissions
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import client_error
from graphql_payments.graphql.pagination import (
    Connection,
    Edge,
    clamp_first,
    connection,
    decode_cursor,
    decode_numeric_cursor,
    encode_cursor,
    node_fields,
)
from graphql_payments.payments import models
from graphql_payments.payments.models import PaymentKind, PaymentStatus
from graphql_payments.payments.repository import BRIEF_COLUMNS
from graphql_payments.payments.types import Payment, PaymentFailureType, columns_for


def _brief(info: Info) -> bool:
    """Whether the page's payments show only fields made from `BRIEF_COLUMNS`."""
    needed = columns_for(info, node_fields(info))
    return needed is not None and needed <= BRIEF_COLUMNS


@strawberry.type
class PaymentQueries:
    @strawberry.field(
        description=(
            "One payment by exactly one of its ids; null when it does not exist or is not "
            "yours (and for anonymous callers). A pending checkout is checked with Stripe "
            "first, so a success page sees the outcome before the webhook arrives. Many of "
            "these in one request (a remote join) are read together."
        )
    )
    async def payment_status(
        self,
        info: Info,
        id: strawberry.ID | None = None,
        checkout_session_id: str | None = None,
        order_id: str | None = None,
    ) -> Payment | None:
        given = [arg for arg in (id, checkout_session_id, order_id) if arg is not None]
        if len(given) != 1:
            raise client_error(
                "Pass exactly one of id, checkoutSessionId and orderId.", "BAD_USER_INPUT"
            )
        if id is not None:
            key = (models.BY_ID, str(id))
        elif checkout_session_id is not None:
            key = (models.BY_CHECKOUT_SESSION, checkout_session_id)
        else:
            key = (models.BY_ORDER, str(order_id))
        loader = info.context.loaders.payment_status(permissions.caller(info))
        payment = await loader.load(key)
        return Payment.of(payment) if payment is not None else None

    @strawberry.field(
        description=(
            "Your payments, newest first (an admin sees everyone's, or one user's with "
            "userId). A keyset connection: pages stay stable while payments are added."
        )
    )
    async def payment_history(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: list[PaymentStatus] | None = None,
        kind: list[PaymentKind] | None = None,
        user_id: str | None = None,
    ) -> Connection[Payment]:
        viewer = permissions.viewer(info)
        if user_id is not None and user_id != viewer.user_id:
            permissions.admin(info)
        page = await info.context.services.payments.history(
            viewer,
            user_id=user_id,
            statuses=list(status or []),
            kinds=list(kind or []),
            first=clamp_first(first),
            after=decode_cursor(after) if after else None,
            brief=_brief(info),
        )
        edges = [
            Edge(cursor=encode_cursor(p.created_at, p.id), node=Payment.of(p))
            for p in page.payments
        ]
        return connection(edges, has_next=page.has_next, total=page.total)

    @strawberry.field(
        description=(
            "Admins: every failed attempt (declines, expired checkouts, failed asynchronous "
            "payments and refunds), newest first, optionally since a moment."
        ),
        extensions=[permissions.AdminOnly()],
    )
    async def failed_payments(
        self,
        info: Info,
        since: dt.datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[PaymentFailureType]:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        cursor = decode_numeric_cursor(after)
        page = await info.context.services.payments.failures(
            since=since, first=clamp_first(first), after=cursor
        )
        edges = [
            Edge(cursor=encode_cursor(f.created_at, str(f.id)), node=PaymentFailureType.of(f, p))
            for f, p in page.rows
        ]
        return connection(edges, has_next=page.has_next, total=page.total)
