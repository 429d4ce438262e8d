"""The data every benchmarked app reads: written once into a migrated database.

- `STATUS_ID`: the payment `paymentStatus(id)` and the primary-key baselines read;
- `HISTORY_USER`: 40 paid credit purchases, so a 20-row page has a next page;
- `RICH_USER` holds `RICH_ENTRIES` ledger entries and `SMALL_USER` ten, for `me`;
- `ingest` PENDING credit purchases (`ingest_payment(i)`, Checkout Session `ingest_session(i)`)
  that the webhook ingest benchmark completes, one event each.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from graphql_payments.ledger.models import CreditBalance, CreditEntry, EntryReason
from graphql_payments.payments.models import Payment, PaymentKind, PaymentStatus

STATUS_ID = "pay_bench_status"
HISTORY_USER = "bench-user"
RICH_USER = "bench-rich"
SMALL_USER = "bench-small"
RICH_ENTRIES = 10_000
INGEST_AMOUNT = 1000
INGEST_CREDITS = 100
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def ingest_payment(i: int) -> str:
    return f"pay_ingest_{i:06d}"


def ingest_session(i: int) -> str:
    return f"cs_ingest_{i:06d}"


def _payment(
    payment_id: str, user_id: str, status: PaymentStatus, n: int, **more: Any
) -> dict[str, Any]:
    moment = START + dt.timedelta(seconds=n)
    row: dict[str, Any] = {
        "id": payment_id,
        "user_id": user_id,
        "kind": PaymentKind.CREDIT_PURCHASE,
        "status": status,
        "amount": 1000,
        "currency": "USD",
        "refunded_amount": 0,
        "credits": 100,
        "package_id": "basic",
        "description": "Basic",
        "transfer_reversed_amount": 0,
        "dispute_lost_amount": 0,
        "created_at": moment,
        "updated_at": moment,
        "version": 1,
    }
    row.update(more)
    return row


async def seed(url: str, *, ingest: int) -> None:
    """Write the benchmark's rows into the migrated, empty database at `url`."""
    paid = PaymentStatus.SUCCEEDED
    payments = [_payment(STATUS_ID, HISTORY_USER, paid, 0)]
    payments += [_payment(f"pay_bench_{n:04d}", HISTORY_USER, paid, n) for n in range(1, 40)]
    payments += [
        _payment(
            ingest_payment(i),
            f"ingest-{i % 50}",
            PaymentStatus.PENDING,
            100 + i,
            stripe_checkout_session_id=ingest_session(i),
        )
        for i in range(ingest)
    ]
    entries = [
        {
            "user_id": user,
            "delta": 1,
            "reason": EntryReason.ADJUSTMENT,
            "payment_id": None,
            "reference": f"bench-{user}-{n}",
            "created_at": START,
        }
        for user, count in ((RICH_USER, RICH_ENTRIES), (SMALL_USER, 10))
        for n in range(count)
    ]
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(Payment), payments)
            await connection.execute(insert(CreditEntry), entries)
            balances = [
                {"user_id": RICH_USER, "balance": RICH_ENTRIES},
                {"user_id": SMALL_USER, "balance": 10},
            ]
            await connection.execute(insert(CreditBalance), balances)
    finally:
        await engine.dispose()
