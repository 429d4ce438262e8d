"""GraphQL types of payments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import strawberry
from sqlalchemy.engine import RowMapping

from graphql_payments.graphql.context import Info
from graphql_payments.graphql.types import Money, build
from graphql_payments.payments import models
from graphql_payments.payments.models import FailureSource, PaymentKind, PaymentStatus
from graphql_payments.refunds.types import DisputeType, RefundType

strawberry.enum(PaymentKind, description="What a payment is for.")
strawberry.enum(PaymentStatus, description="Where a payment is in its kind's state machine.")


def _money(amount: int | None, currency: str) -> Money | None:
    return None if amount is None else Money.of(amount, currency)


class _Attributes:
    """An ORM object's attributes read by name, like a Core row's `_mapping`."""

    __slots__ = ("record",)

    def __init__(self, record: object) -> None:
        self.record = record

    def __getitem__(self, name: str) -> Any:
        return getattr(self.record, name)


def columns(record: models.PaymentRecord) -> RowMapping | Mapping[str, Any] | _Attributes:
    """The record's columns by name. A Core row's attributes cost a failed lookup each
    (about 0.75 us); its mapping answers in a sixth of that, which matters on a page of 100.
    A prepared row's mapping is a plain dict."""
    mapping = getattr(record, "_mapping", None)
    return mapping if mapping is not None else _Attributes(record)


@strawberry.type(description="A payment of any kind, as our records hold it.")
class Payment:
    id: strawberry.ID
    user_id: str
    kind: PaymentKind
    status: PaymentStatus
    amount: Money
    refunded_amount: Money
    credits: int | None = strawberry.field(description="Credits this payment buys, if any.")
    package_id: str | None
    description: str | None
    failure_code: str | None = strawberry.field(
        description="Stripe's error code of the last failure."
    )
    decline_code: str | None
    failure_message: str | None
    stripe_payment_intent_id: str | None
    stripe_checkout_session_id: str | None
    receipt_url: str | None
    next_action_url: str | None = strawberry.field(
        description=(
            "REQUIRES_ACTION: the page where the customer finishes the payment (3-D Secure)."
        )
    )
    client_secret: str | None = strawberry.field(
        description="REQUIRES_ACTION: the PaymentIntent's client secret, for Stripe.js."
    )
    autopay_id: str | None = strawberry.field(description="Autopay: the autopay that charged.")
    order_id: str | None = strawberry.field(description="Escrow: the marketplace order.")
    runner_id: str | None = strawberry.field(description="Escrow: who was paid on release.")
    captured_amount: Money | None = strawberry.field(description="Escrow: what was captured.")
    platform_fee: Money | None = strawberry.field(
        description="Escrow: the platform's share of the captured amount."
    )
    transfer_id: str | None = strawberry.field(description="Escrow: the transfer to the runner.")
    transferred_amount: Money | None = strawberry.field(
        description="Escrow: what the runner received (before reversals)."
    )
    transfer_reversed_amount: Money = strawberry.field(
        description="Escrow: what was taken back from the runner."
    )
    hold_expires_at: dt.datetime | None = strawberry.field(
        description="Escrow: when the uncaptured authorization lapses."
    )
    created_at: dt.datetime
    updated_at: dt.datetime

    @strawberry.field(description="Refunds of this payment, oldest first.")
    async def refunds(self, info: Info) -> list[RefundType]:
        rows = await info.context.loaders.refunds.load(str(self.id))
        return [RefundType.of(r) for r in rows]

    @strawberry.field(description="Disputes of this payment, oldest first.")
    async def disputes(self, info: Info) -> list[DisputeType]:
        rows = await info.context.loaders.disputes.load(str(self.id))
        return [DisputeType.of(d) for d in rows]

    @classmethod
    def of(cls, payment: models.PaymentRecord) -> Payment:
        p = columns(payment)
        currency = p["currency"]
        return build(
            cls,
            id=strawberry.ID(p["id"]),
            user_id=p["user_id"],
            kind=p["kind"],
            status=p["status"],
            amount=Money.of(p["amount"], currency),
            refunded_amount=Money.of(p["refunded_amount"], currency),
            credits=p["credits"],
            package_id=p["package_id"],
            description=p["description"],
            failure_code=p["failure_code"],
            decline_code=p["decline_code"],
            failure_message=p["failure_message"],
            stripe_payment_intent_id=p["stripe_payment_intent_id"],
            stripe_checkout_session_id=p["stripe_checkout_session_id"],
            receipt_url=p["receipt_url"],
            next_action_url=p["next_action_url"],
            client_secret=p["client_secret"],
            autopay_id=p["autopay_id"],
            order_id=p["order_id"],
            runner_id=p["runner_id"],
            captured_amount=_money(p["captured_amount"], currency),
            platform_fee=_money(p["platform_fee"], currency),
            transfer_id=p["transfer_id"],
            transferred_amount=_money(p["transferred_amount"], currency),
            transfer_reversed_amount=Money.of(p["transfer_reversed_amount"], currency),
            hold_expires_at=p["hold_expires_at"],
            created_at=p["created_at"],
            updated_at=p["updated_at"],
        )


strawberry.enum(FailureSource, description="What failed.")


@strawberry.type(name="PaymentFailure", description="A failed attempt, with Stripe's codes.")
class PaymentFailureType:
    id: strawberry.ID
    source: FailureSource
    code: str | None
    decline_code: str | None
    message: str | None
    occurred_at: dt.datetime
    payment: Payment

    @classmethod
    def of(cls, failure: models.PaymentFailure, payment: models.Payment) -> PaymentFailureType:
        return cls(
            id=strawberry.ID(str(failure.id)),
            source=failure.source,
            code=failure.code,
            decline_code=failure.decline_code,
            message=failure.message,
            occurred_at=failure.created_at,
            payment=Payment.of(payment),
        )
