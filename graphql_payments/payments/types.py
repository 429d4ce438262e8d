"""GraphQL types of payments."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from operator import attrgetter
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import get_object_definition

from graphql_payments.graphql.context import Info
from graphql_payments.graphql.types import Money
from graphql_payments.payments import models
from graphql_payments.payments.models import FailureSource, PaymentKind, PaymentStatus
from graphql_payments.refunds.types import DisputeType, RefundType

strawberry.enum(PaymentKind, description="What a payment is for.")
strawberry.enum(PaymentStatus, description="Where a payment is in its kind's state machine.")


def _money(amount: int | None, currency: str) -> Money | None:
    return None if amount is None else Money.of(amount, currency)


def _amount(name: str) -> Callable[[models.PaymentRecord], Money | None]:
    read = attrgetter(name)
    return lambda p: _money(read(p), p.currency)


_PLAIN = (
    "id", "user_id", "kind", "status", "credits", "package_id", "description", "failure_code",
    "decline_code", "failure_message", "stripe_payment_intent_id", "stripe_checkout_session_id",
    "receipt_url", "next_action_url", "client_secret", "autopay_id", "order_id", "runner_id",
    "transfer_id", "hold_expires_at", "created_at", "updated_at",
)  # fmt: skip
_AMOUNTS = (
    "amount", "refunded_amount", "captured_amount", "platform_fee", "transferred_amount",
    "transfer_reversed_amount",
)  # fmt: skip

# How each field of `Payment` is made from the payment's record. Fields are made when first
# read: a page of payments usually shows four of them, and making all of them (money objects
# included) was about a third of a page's work.
_FIELDS: dict[str, Callable[[models.PaymentRecord], Any]] = {
    name: attrgetter(name) for name in _PLAIN
} | {name: _amount(name) for name in _AMOUNTS}
_COLUMNS = (*_FIELDS, "currency")

# The columns each field of `Payment` is made from (its refunds and disputes: the id).
COLUMNS_OF: dict[str, tuple[str, ...]] = {name: (name,) for name in _PLAIN}
COLUMNS_OF.update({name: (name, "currency") for name in _AMOUNTS})
COLUMNS_OF.update(refunds=("id",), disputes=("id",))


@functools.cache
def _columns_by_name(converter: NameConverter) -> dict[str, tuple[str, ...]]:
    fields = get_object_definition(Payment, strict=True).fields
    return {
        converter.get_graphql_name(field): COLUMNS_OF[field.python_name]
        for field in fields
        if field.python_name in COLUMNS_OF
    }


def columns_for(info: Info, fields: Iterable[str]) -> frozenset[str] | None:
    """The columns the fields of `Payment` named (GraphQL names) are made from; None when one of
    them is not known here."""
    known = _columns_by_name(info.schema.config.name_converter)
    needed: set[str] = set()
    for name in fields:
        if name != "__typename":
            columns = known.get(name)
            if columns is None:
                return None
            needed.update(columns)
    return frozenset(needed)


def snapshot(record: models.PaymentRecord) -> models.PaymentRecord:
    """The record as it is now. A row is a snapshot already; an ORM object can still change
    (or expire), so its columns are copied."""
    if isinstance(record, models.Payment):
        return SimpleNamespace(**{name: getattr(record, name) for name in _COLUMNS})
    return record


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
        """The payment as shown, its fields made from `snapshot(payment)` when first read."""
        instance = object.__new__(cls)
        instance.__dict__["_record"] = snapshot(payment)
        return instance

    if not TYPE_CHECKING:  # every other name is an error for the type checker, as usual

        def __getattr__(self, name: str) -> Any:
            make = _FIELDS.get(name)
            found = self.__dict__.get("_record")
            if make is None or found is None:
                raise AttributeError(name)
            value = self.__dict__[name] = make(found)
            return value


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
