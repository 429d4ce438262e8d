"""GraphQL types of credits and checkout."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from graphql_payments import config
from graphql_payments.credits.service import CheckoutRequest
from graphql_payments.graphql.errors import (
    IdempotencyError,
    InsufficientCreditsError,
    NotFoundError,
    PaymentProviderError,
    ValidationError,
)
from graphql_payments.graphql.types import Money
from graphql_payments.ledger import models
from graphql_payments.ledger.models import EntryReason
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
    idempotency_key: str
    package_id: strawberry.ID | None = None
    credits: int | None = None
    success_url: str | None = strawberry.field(
        default=None,
        description=(
            "Where Stripe sends the customer after paying; {CHECKOUT_SESSION_ID} is filled in. "
            "Default: this server's /pay/success page."
        ),
    )
    cancel_url: str | None = strawberry.field(
        default=None,
        description=(
            "Where Stripe sends the customer who leaves the payment page. Default: this "
            "server's /pay/cancel page."
        ),
    )

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


strawberry.enum(EntryReason, description="Why credits moved.")


@strawberry.type(description="One immutable movement of a user's credits.")
class CreditEntry:
    id: strawberry.ID
    user_id: str
    credits: int = strawberry.field(description="Credits added (positive) or taken (negative).")
    reason: EntryReason
    reference: str = strawberry.field(
        description="The consumption's reference, refund or dispute id; empty for purchases."
    )
    payment_id: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, entry: models.CreditEntry) -> CreditEntry:
        return cls(
            id=strawberry.ID(str(entry.id)),
            user_id=entry.user_id,
            credits=entry.delta,
            reason=entry.reason,
            reference=entry.reference,
            payment_id=entry.payment_id,
            created_at=entry.created_at,
        )


@strawberry.input(
    description=(
        "Spend a user's credits (admins and trusted services). One entry per call; the same "
        "idempotencyKey returns the same entry."
    )
)
class ConsumeCreditsInput:
    user_id: str
    credits: int
    reference: str = strawberry.field(description="What the credits paid for, e.g. a job id.")
    idempotency_key: str


@strawberry.type
class ConsumeCreditsSuccess:
    balance: int = strawberry.field(description="The user's balance after this consumption.")
    entry: CreditEntry


ConsumeCreditsResult = Annotated[
    ConsumeCreditsSuccess | InsufficientCreditsError | ValidationError | IdempotencyError,
    strawberry.union("ConsumeCreditsResult"),
]
