"""The platform balance: balance transactions and `GET /v1/balance`.

Every movement of money books a balance transaction (`txn_...`): captured charges (less a
simulated processing fee of 2.9% plus a fixed 30 minor units, nothing fixed for zero-decimal
currencies), refunds, failed refunds, transfers, transfer reversals and dispute withdrawals.
Funds are available at once. The available balance per currency is the sum of those
transactions; a transfer without `source_transaction` that would take it below zero fails with
`balance_insufficient`, as on Stripe.
"""

from __future__ import annotations

from graphql_payments.sandbox.currencies import exponent
from graphql_payments.sandbox.errors import JSON
from graphql_payments.sandbox.state import State, new_id

REPORTING_CATEGORIES = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "refund_failure": "refund_failure",
    "transfer": "transfer",
    "transfer_refund": "transfer_reversal",
    "adjustment": "dispute",
}


def processing_fee(amount: int, currency: str) -> int:
    fixed = 30 if exponent(currency) == 2 else 0
    return round(amount * 0.029) + fixed


def book(
    state: State,
    *,
    type: str,
    amount: int,
    currency: str,
    source: str,
    fee: int = 0,
    description: str | None = None,
) -> JSON:
    """Record a balance transaction and return it."""
    fee_details: list[JSON] = []
    if fee:
        fee_details.append(
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        )
    now = state.now()
    txn: JSON = {
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": now,
        "balance_type": "payments",
        "created": now,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": REPORTING_CATEGORIES.get(type, type),
        "source": source,
        "status": "available",
        "type": type,
    }
    return state.add(txn)


def available(state: State, currency: str) -> int:
    return sum(
        txn["net"] for txn in state.all("balance_transaction") if txn["currency"] == currency
    )


def balance(state: State) -> JSON:
    totals: dict[str, int] = {}
    for txn in state.all("balance_transaction"):
        totals[txn["currency"]] = totals.get(txn["currency"], 0) + txn["net"]
    if not totals:
        totals["usd"] = 0
    return {
        "object": "balance",
        "available": [
            {"amount": amount, "currency": currency, "source_types": {"card": amount}}
            for currency, amount in sorted(totals.items())
        ],
        "livemode": False,
        "pending": [
            {"amount": 0, "currency": currency, "source_types": {"card": 0}}
            for currency in sorted(totals)
        ],
    }
