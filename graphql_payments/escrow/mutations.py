"""Escrow mutations: `authorize`, `release`, `revert`."""

from __future__ import annotations

import strawberry

from graphql_payments.escrow.types import (
    AuthorizeInput,
    AuthorizeResult,
    AuthorizeSuccess,
    ReleaseInput,
    ReleaseResult,
    ReleaseSuccess,
    RevertInput,
    RevertResult,
    RevertSuccess,
)
from graphql_payments.graphql import permissions
from graphql_payments.graphql.audit import for_someone_else
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import mutation
from graphql_payments.payments.types import Payment


@strawberry.type
class EscrowMutations:
    @mutation(
        description=(
            "Hold an order's amount on the customer's card (the customer, or an admin for "
            "userId). One live escrow per order; the same idempotencyKey returns the same one."
        ),
        audit="authorize",
        audit_if=for_someone_else,
    )
    async def authorize(self, info: Info, input: AuthorizeInput) -> AuthorizeResult:
        user_id = permissions.acting_for(info, input.user_id)
        done = await info.context.services.escrow.authorize(user_id, input.to_request())
        return AuthorizeSuccess(
            payment=Payment.of(done.payment),
            client_secret=done.client_secret,
            next_action_url=done.next_action_url,
        )

    @mutation(
        description=(
            "Admins and services: capture the order's hold (or `amount` of it) and transfer "
            "it, less the platform fee, to the runner's Connect account. Calling it again "
            "returns the same result."
        ),
        audit="release",
        admin=True,
    )
    async def release(self, info: Info, input: ReleaseInput) -> ReleaseResult:
        payment = await info.context.services.escrow.release(
            order_id=input.order_id,
            runner_id=input.runner_id,
            runner_account_id=input.runner_account_id,
            amount=input.amount,
        )
        return ReleaseSuccess(payment=Payment.of(payment))

    @mutation(
        description=(
            "Admins and services: cancel the order's hold, or after release refund the "
            "customer and reverse the runner's transfer. Calling it again returns the same result."
        ),
        audit="revert",
        admin=True,
    )
    async def revert(self, info: Info, input: RevertInput) -> RevertResult:
        payment = await info.context.services.escrow.revert(
            order_id=input.order_id, reason=input.reason
        )
        return RevertSuccess(payment=Payment.of(payment))
