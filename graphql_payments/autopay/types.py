"""GraphQL types of autopay."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from graphql_payments.autopay import models
from graphql_payments.autopay.models import AutopayStatus, PausedReason
from graphql_payments.autopay.service import AutopayRequest
from graphql_payments.customers.models import SavedPaymentMethod
from graphql_payments.customers.types import PaymentMethod
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import (
    IdempotencyError,
    NotFoundError,
    ValidationError,
)
from graphql_payments.graphql.types import Money
from graphql_payments.payments.types import Payment

strawberry.enum(AutopayStatus, description="Where an autopay is.")
strawberry.enum(PausedReason, description="Why an autopay waits for the customer.")


@strawberry.type(description="Automatic top-ups of a user's credits, charged to a saved card.")
class Autopay:
    id: strawberry.ID
    enabled: bool
    credits: int = strawberry.field(description="Credits each top-up buys.")
    package_id: str | None
    amount: Money = strawberry.field(description="What each top-up charges.")
    day_of_month: int | None = strawberry.field(
        description="Monthly on this day (1-31; in a shorter month, on its last day)."
    )
    below_balance: int | None = strawberry.field(
        description="Also whenever the balance falls below this many credits."
    )
    payment_method: PaymentMethod | None = strawberry.field(
        description="The card charged: the autopay's own, else the default card."
    )
    status: AutopayStatus
    paused_reason: PausedReason | None
    next_charge_at: dt.datetime | None = strawberry.field(
        description="When the monthly top-up runs next."
    )
    retry_at: dt.datetime | None = strawberry.field(
        description="PAST_DUE: when the declined top-up is tried again."
    )
    failure_count: int = strawberry.field(description="Declines in a row.")
    last_payment_id: strawberry.Private[str | None]

    @strawberry.field(description="The latest top-up charge.")
    async def last_payment(self, info: Info) -> Payment | None:
        if self.last_payment_id is None:
            return None
        payment = await info.context.services.payments.get(self.last_payment_id)
        return Payment.of(payment) if payment is not None else None

    @classmethod
    def of(cls, autopay: models.Autopay, *, card: SavedPaymentMethod | None) -> Autopay:
        return cls(
            id=strawberry.ID(autopay.id),
            enabled=autopay.enabled,
            credits=autopay.credits,
            package_id=autopay.package_id,
            amount=Money.of(autopay.amount, autopay.currency),
            day_of_month=autopay.day_of_month,
            below_balance=autopay.below_balance,
            payment_method=PaymentMethod.of(card) if card is not None else None,
            status=autopay.status,
            paused_reason=autopay.paused_reason,
            next_charge_at=autopay.next_charge_at,
            retry_at=autopay.retry_at,
            failure_count=autopay.failure_count,
            last_payment_id=autopay.last_payment_id,
        )


@strawberry.input(
    description=(
        "Turn autopay on (or change it) with packageId or credits and at least one trigger; "
        "enabled: false turns it off. Without paymentMethodId the default card is charged."
    )
)
class AutopayInput:
    idempotency_key: str
    enabled: bool = True
    package_id: strawberry.ID | None = None
    credits: int | None = None
    day_of_month: int | None = None
    below_balance: int | None = None
    payment_method_id: strawberry.ID | None = None
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="Admins and services: whose autopay to set (audited)."
    )

    def to_request(self) -> AutopayRequest:
        return AutopayRequest(
            idempotency_key=self.idempotency_key,
            enabled=self.enabled,
            package_id=self.package_id,
            credits=self.credits,
            day_of_month=self.day_of_month,
            below_balance=self.below_balance,
            payment_method_id=self.payment_method_id,
        )


@strawberry.type
class AutopaySuccess:
    autopay: Autopay


AutopayResult = Annotated[
    AutopaySuccess | ValidationError | NotFoundError | IdempotencyError,
    strawberry.union("AutopayResult"),
]
