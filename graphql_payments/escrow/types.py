"""GraphQL types of escrow."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graphql_payments.escrow.service import AuthorizeRequest
from graphql_payments.graphql.errors import (
    IdempotencyError,
    InvalidStatusError,
    NotFoundError,
    PaymentProviderError,
    ValidationError,
)
from graphql_payments.payments.types import Payment


@strawberry.input(description="Hold an order's amount on the customer's card.")
class AuthorizeInput:
    order_id: str
    amount: int = strawberry.field(description="Minor units of currency (cents, yen, ...).")
    currency: str = strawberry.field(description="ISO 4217 code, any case.")
    payment_method_id: str = strawberry.field(description="A Stripe PaymentMethod id (pm_...).")
    idempotency_key: str
    description: str | None = None
    return_url: str | None = strawberry.field(
        default=None,
        description=(
            "Where the customer returns after 3-D Secure. Default: this server's /pay/return page."
        ),
    )
    user_id: str | None = strawberry.field(
        default=None, description="Admins only: authorize on behalf of this user."
    )

    def to_request(self) -> AuthorizeRequest:
        return AuthorizeRequest(
            order_id=self.order_id,
            amount=self.amount,
            currency=self.currency,
            payment_method_id=self.payment_method_id,
            idempotency_key=self.idempotency_key,
            description=self.description,
            return_url=self.return_url,
        )


@strawberry.type(
    description=(
        "The hold is placed (payment AUTHORIZED) or needs the customer (REQUIRES_ACTION: "
        "finish with clientSecret in Stripe.js, or send the customer to nextActionUrl)."
    )
)
class AuthorizeSuccess:
    payment: Payment
    client_secret: str | None
    next_action_url: str | None


@strawberry.input(description="Capture the hold and pay the runner.")
class ReleaseInput:
    order_id: str
    runner_id: str | None = None
    runner_account_id: str | None = strawberry.field(
        default=None, description="The runner's Stripe Connect account (acct_...), to pay them."
    )
    amount: int | None = strawberry.field(
        default=None, description="Capture less than the hold; the rest is released."
    )


@strawberry.type
class ReleaseSuccess:
    payment: Payment


@strawberry.input(description="Give the order's money back to the customer.")
class RevertInput:
    order_id: str
    reason: str | None = None


@strawberry.type
class RevertSuccess:
    payment: Payment


AuthorizeResult = Annotated[
    AuthorizeSuccess
    | ValidationError
    | NotFoundError
    | IdempotencyError
    | InvalidStatusError
    | PaymentProviderError,
    strawberry.union("AuthorizeResult"),
]
ReleaseResult = Annotated[
    ReleaseSuccess | ValidationError | NotFoundError | InvalidStatusError | PaymentProviderError,
    strawberry.union("ReleaseResult"),
]
RevertResult = Annotated[
    RevertSuccess | ValidationError | NotFoundError | InvalidStatusError | PaymentProviderError,
    strawberry.union("RevertResult"),
]
