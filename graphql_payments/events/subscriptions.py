"""`paymentUpdated`: a payment's state now, then after every change, from any process."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from graphql_payments.graphql import permissions
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import client_error
from graphql_payments.payments.types import Payment


@strawberry.type
class EventSubscriptions:
    @strawberry.subscription(
        description=(
            "The payment now, then again whenever its status, refunded amount or failure "
            "changes (graphql-transport-ws; credentials in connection_init's payload). The "
            "same rules as paymentStatus: your own payments, or any for an admin."
        )
    )
    async def payment_updated(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Payment, None]:
        viewer = permissions.viewer(info)
        services = info.context.services
        async with services.feed.watch(str(id)) as changed:
            payment = await services.payments.status(viewer, payment_id=str(id))
            if payment is None:
                raise client_error("No such payment, or it is not yours.", "NOT_FOUND")
            shown = _state(payment)
            yield Payment.of(payment)
            while True:
                await changed.wait()
                changed.clear()
                payment = await services.payments.status(viewer, payment_id=str(id), refresh=False)
                if payment is not None and _state(payment) != shown:
                    shown = _state(payment)
                    yield Payment.of(payment)


def _state(payment: object) -> tuple[object, ...]:
    return tuple(
        getattr(payment, name)
        for name in ("status", "refunded_amount", "failure_code", "decline_code")
    )
