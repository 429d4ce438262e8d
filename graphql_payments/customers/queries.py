"""Queries of saved payment methods: `paymentMethods`."""

from __future__ import annotations

import strawberry

from graphql_payments.customers.types import PaymentMethod
from graphql_payments.graphql import permissions
from graphql_payments.graphql.context import Info


@strawberry.type
class CustomerQueries:
    @strawberry.field(
        description=(
            "Your saved cards, oldest first (admins may pass userId). Read from our copy, "
            "kept current by Stripe's webhooks."
        )
    )
    async def payment_methods(self, info: Info, user_id: str | None = None) -> list[PaymentMethod]:
        target = permissions.acting_for(info, user_id)
        rows = await info.context.services.payment_methods.list(target)
        return [PaymentMethod.of(row) for row in rows]
