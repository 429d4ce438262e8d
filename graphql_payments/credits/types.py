"""GraphQL types of credits and checkout."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graphql_payments import config
from graphql_payments.credits.service import CheckoutRequest
from graphql_payments.graphql.errors import (
    IdempotencyError,
    NotFoundError,
    PaymentProviderError,
    ValidationError,
)
from graphql_payments.graphql.types import Money
from graphql_payments.payments.types import Payment


@strawberry.type(description="A package of credits for sale.")
class CreditPackage:
    id: strawberry.ID
    name: str
    credits: int
    price: Money
    description: str

    @classmethod
    def of(cls, package: config.CreditPackage) -> CreditPackage:
        return cls(
            id=strawberry.ID(package.id),
            name=package.name,
            credits=package.credits,
            price=Money.of(package.amount, package.currency),
            description=package.description,
        )


@strawberry.input(
    description=(
        "Buy a package (packageId) or a custom number of credits (credits), not both. "
        "Retrying with the same idempotencyKey returns the same payment and session."
    )
)
class CheckoutInput:
    success_url: str = strawberry.field(
        description=(
            "Where Stripe sends the customer after paying; {CHECKOUT_SESSION_ID} is filled in."
        )
    )
    cancel_url: str
    idempotency_key: str
    package_id: strawberry.ID | None = None
    credits: int | None = None

    def to_request(self) -> CheckoutRequest:
        return CheckoutRequest(
            success_url=self.success_url,
            cancel_url=self.cancel_url,
            idempotency_key=self.idempotency_key,
            package_id=self.package_id,
            credits=self.credits,
        )


@strawberry.type(description="Send the customer to checkoutUrl to pay.")
class CheckoutSuccess:
    payment: Payment
    checkout_url: str
    session_id: str


CheckoutResult = Annotated[
    CheckoutSuccess | ValidationError | NotFoundError | IdempotencyError | PaymentProviderError,
    strawberry.union("CheckoutResult"),
]
