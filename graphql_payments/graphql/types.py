"""GraphQL types shared by every domain."""

from __future__ import annotations

from typing import Any, TypeVar

import strawberry

from graphql_payments import money

T = TypeVar("T")


def build(cls: type[T], **fields: Any) -> T:
    """An instance of the Strawberry type `cls` with these fields (all of them), made without
    the dataclass `__init__`: for types built per row (a payment's amounts), whose generated
    `__init__` costs more than the rest of their conversion."""
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance


@strawberry.type(description="An amount of money: integer minor units plus an ISO 4217 code.")
class Money:
    amount: int = strawberry.field(
        description="In the currency's minor unit: cents for USD, yen for JPY (no decimals)."
    )
    currency: str = strawberry.field(description="ISO 4217 code, upper case.")

    @strawberry.field(description="For display, e.g. '1,234.50 USD'.")
    def formatted(self) -> str:
        return money.format_amount(self.amount, self.currency)

    @classmethod
    def of(cls, amount: int, currency: str) -> Money:
        return build(cls, amount=amount, currency=currency)
