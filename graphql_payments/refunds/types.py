"""GraphQL types of refunds and disputes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_payments.graphql.errors import (
    AlreadyRefundedError,
    IdempotencyError,
    InsufficientCreditsError,
    InvalidStatusError,
    NotFoundError,
    PaymentProviderError,
    ValidationError,
)
from graphql_payments.graphql.types import Money
from graphql_payments.refunds import models
from graphql_payments.refunds.models import RefundStatus
from graphql_payments.refunds.service import RefundRequest

if TYPE_CHECKING:
    from graphql_payments.payments.types import Payment

strawberry.enum(RefundStatus, description="Where a refund is: PENDING until Stripe confirms it.")


@strawberry.type(name="Refund", description="Money given back on a payment.")
class RefundType:
    id: strawberry.ID
    amount: Money
    status: RefundStatus
    reason: str | None
    failure_reason: str | None
    stripe_refund_id: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, refund: models.Refund) -> RefundType:
        return cls(
            id=strawberry.ID(refund.id),
            amount=Money.of(refund.amount, refund.currency),
            status=refund.status,
            reason=refund.reason,
            failure_reason=refund.failure_reason,
            stripe_refund_id=refund.stripe_refund_id,
            created_at=refund.created_at,
        )


@strawberry.type(name="Dispute", description="A chargeback the customer's bank opened.")
class DisputeType:
    id: strawberry.ID
    amount: Money
    status: str = strawberry.field(description="Stripe's status: needs_response, won, lost, ...")
    reason: str | None
    credits_held: int = strawberry.field(description="Credits held back while it is open.")
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, dispute: models.Dispute) -> DisputeType:
        return cls(
            id=strawberry.ID(dispute.id),
            amount=Money.of(dispute.amount, dispute.currency),
            status=dispute.status,
            reason=dispute.reason,
            credits_held=dispute.credits_held,
            created_at=dispute.created_at,
            updated_at=dispute.updated_at,
        )


@strawberry.input(description="Refund a captured payment, in full (no amount) or in part.")
class RefundInput:
    payment_id: strawberry.ID
    idempotency_key: str
    amount: int | None = strawberry.field(
        default=None, description="Minor units; all that is left when omitted."
    )
    reason: str | None = None
    force: bool = strawberry.field(
        default=False,
        description="Refund even when the customer no longer holds the credits it takes back.",
    )

    def to_request(self) -> RefundRequest:
        return RefundRequest(
            payment_id=str(self.payment_id),
            idempotency_key=self.idempotency_key,
            amount=self.amount,
            reason=self.reason,
            force=self.force,
        )


@strawberry.type
class RefundSuccess:
    payment: Annotated[Payment, strawberry.lazy("graphql_payments.payments.types")]
    refund: RefundType


RefundResult = Annotated[
    RefundSuccess
    | ValidationError
    | NotFoundError
    | IdempotencyError
    | InvalidStatusError
    | AlreadyRefundedError
    | InsufficientCreditsError
    | PaymentProviderError,
    strawberry.union("RefundResult"),
]
