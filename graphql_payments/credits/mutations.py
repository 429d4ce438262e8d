"""Credit mutations: `checkout`, `consumeCredits`."""

from __future__ import annotations

import strawberry

from graphql_payments.credits.types import (
    CheckoutInput,
    CheckoutResult,
    CheckoutSuccess,
    ConsumeCreditsInput,
    ConsumeCreditsResult,
    ConsumeCreditsSuccess,
    CreditEntry,
)
from graphql_payments.graphql import permissions
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import mutation
from graphql_payments.payments.types import Payment


@strawberry.type
class CreditMutations:
    @mutation(
        description="Start a Stripe Checkout for credits; credits arrive when Stripe confirms."
    )
    async def checkout(self, info: Info, input: CheckoutInput) -> CheckoutResult:
        user_id = permissions.user_id(info)
        outcome = await info.context.services.credits.checkout(user_id, input.to_request())
        return CheckoutSuccess(
            payment=Payment.of(outcome.payment),
            checkout_url=outcome.checkout_url,
            session_id=outcome.session_id,
        )

    @mutation(
        description=(
            "Admins and trusted services: spend a user's credits. The balance never goes below "
            "zero through this mutation."
        ),
        audit="consumeCredits",
        admin=True,
    )
    async def consume_credits(self, info: Info, input: ConsumeCreditsInput) -> ConsumeCreditsResult:
        done = await info.context.services.credits.consume(
            input.user_id,
            credits=input.credits,
            reference=input.reference,
            idempotency_key=input.idempotency_key,
        )
        return ConsumeCreditsSuccess(balance=done.balance, entry=CreditEntry.of(done.entry))
