"""Refund mutations: `refund`."""

from __future__ import annotations

import strawberry

from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import mutation
from graphql_payments.payments.types import Payment
from graphql_payments.refunds.types import RefundInput, RefundResult, RefundSuccess, RefundType


@strawberry.type
class RefundMutations:
    @mutation(
        description=(
            "Admins and services: refund a captured payment in full or in part. Credit "
            "purchases take back credits in proportion (rounded down); escrow payments also "
            "reverse the runner's transfer in proportion. The same idempotencyKey returns the "
            "same refund."
        ),
        audit="refund",
        admin=True,
    )
    async def refund(self, info: Info, input: RefundInput) -> RefundResult:
        done = await info.context.services.refunds.refund(input.to_request())
        return RefundSuccess(payment=Payment.of(done.payment), refund=RefundType.of(done.refund))
