"""SQL for the credit ledger: idempotent entries and balances."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.db import insert_for
from graphql_payments.ledger.models import CreditEntry, EntryReason


async def add_entry(
    session: AsyncSession,
    *,
    user_id: str,
    delta: int,
    reason: EntryReason,
    payment_id: str | None,
    reference: str = "",
) -> bool:
    """Append an entry; False (and nothing written) when the same entry already exists."""
    values = {
        "user_id": user_id,
        "delta": delta,
        "reason": reason,
        "payment_id": payment_id,
        "reference": reference,
    }
    statement = (
        insert_for(session, CreditEntry)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["payment_id", "reason", "reference"])
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def balance(session: AsyncSession, user_id: str) -> int:
    query = select(func.coalesce(func.sum(CreditEntry.delta), 0)).where(
        CreditEntry.user_id == user_id
    )
    return int((await session.execute(query)).scalar_one())


async def taken_back(session: AsyncSession, payment_id: str) -> int:
    """Credits the payment's refunds currently hold taken back (net of restorations)."""
    query = select(func.coalesce(func.sum(CreditEntry.delta), 0)).where(
        CreditEntry.payment_id == payment_id,
        CreditEntry.reason.in_((EntryReason.REFUND, EntryReason.REFUND_RESTORED)),
    )
    return -int((await session.execute(query)).scalar_one())
