"""GraphQL types of saved payment methods."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from graphql_payments.customers import models
from graphql_payments.graphql.errors import (
    IdempotencyError,
    NotFoundError,
    PaymentProviderError,
    ValidationError,
)


@strawberry.type(description="A card saved for later payments (autopay charges the default).")
class PaymentMethod:
    id: strawberry.ID = strawberry.field(description="Stripe's PaymentMethod id (pm_...).")
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    is_default: bool = strawberry.field(description="The customer's default card.")
    created_at: dt.datetime

    @classmethod
    def of(cls, method: models.SavedPaymentMethod) -> PaymentMethod:
        return cls(
            id=strawberry.ID(method.id),
            brand=method.brand,
            last4=method.last4,
            exp_month=method.exp_month,
            exp_year=method.exp_year,
            is_default=method.is_default,
            created_at=method.created_at,
        )


@strawberry.input(description="Save a card: the same idempotencyKey returns the same page.")
class AddPaymentMethodInput:
    return_url: str = strawberry.field(
        description="Where the hosted page sends the customer back (saved or not)."
    )
    idempotency_key: str


@strawberry.type(
    description=(
        "Send the customer to setupUrl (Stripe's hosted page), or confirm clientSecret (the "
        "SetupIntent's) with Stripe.js. The card appears in paymentMethods once Stripe confirms."
    )
)
class AddPaymentMethodSuccess:
    setup_url: str
    client_secret: str | None
    session_id: str


AddPaymentMethodResult = Annotated[
    AddPaymentMethodSuccess | ValidationError | IdempotencyError | PaymentProviderError,
    strawberry.union("AddPaymentMethodResult"),
]


@strawberry.input
class SetDefaultPaymentMethodInput:
    payment_method_id: strawberry.ID


@strawberry.type
class SetDefaultPaymentMethodSuccess:
    payment_method: PaymentMethod


SetDefaultPaymentMethodResult = Annotated[
    SetDefaultPaymentMethodSuccess | NotFoundError | PaymentProviderError,
    strawberry.union("SetDefaultPaymentMethodResult"),
]


@strawberry.input
class RemovePaymentMethodInput:
    payment_method_id: strawberry.ID


@strawberry.type(description="The card was detached at Stripe and is no longer listed.")
class RemovePaymentMethodSuccess:
    payment_method_id: strawberry.ID


RemovePaymentMethodResult = Annotated[
    RemovePaymentMethodSuccess | NotFoundError | PaymentProviderError,
    strawberry.union("RemovePaymentMethodResult"),
]
