"""GraphQL types shared by every domain."""

from __future__ import annotations

import strawberry

from graphql_payments import money


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
        """Made without the dataclass `__init__`, which costs more than the rest of a payment's
        amount (one of these per amount shown)."""
        instance = object.__new__(cls)
        instance.__dict__.update(amount=amount, currency=currency)
        return instance
