"""SQL for the credit ledger: idempotent entries, balances and the invariant checks."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.credits.models import CreditEntry, EntryReason
from graphql_payments.db import insert_for
from graphql_payments.payments.models import Payment, PaymentKind
from graphql_payments.payments.states import PAID_STATUSES


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


async def entries_for_payment(session: AsyncSession, payment_id: str) -> list[CreditEntry]:
    query = select(CreditEntry).where(CreditEntry.payment_id == payment_id).order_by(CreditEntry.id)
    return list((await session.execute(query)).scalars())


async def purchases_not_credited_once(session: AsyncSession) -> list[tuple[str, int]]:
    """Paid credit purchases whose PURCHASE entries are not exactly one of `credits`."""
    credited = (
        select(
            CreditEntry.payment_id,
            func.count(CreditEntry.id).label("n"),
            func.sum(CreditEntry.delta).label("total"),
        )
        .where(CreditEntry.reason == EntryReason.PURCHASE)
        .group_by(CreditEntry.payment_id)
        .subquery()
    )
    query = (
        select(Payment.id, func.coalesce(credited.c.n, 0))
        .outerjoin(credited, credited.c.payment_id == Payment.id)
        .where(
            Payment.kind == PaymentKind.CREDIT_PURCHASE,
            Payment.status.in_(PAID_STATUSES),
            or_(credited.c.n.is_(None), credited.c.n != 1, credited.c.total != Payment.credits),
        )
    )
    return [(row[0], int(row[1])) for row in (await session.execute(query)).all()]


async def credited_unpaid(session: AsyncSession) -> list[str]:
    """Payments with a PURCHASE entry that were never paid."""
    query = (
        select(CreditEntry.payment_id)
        .join(Payment, Payment.id == CreditEntry.payment_id)
        .where(
            CreditEntry.reason == EntryReason.PURCHASE,
            Payment.status.not_in(PAID_STATUSES),
        )
        .distinct()
    )
    return [str(row[0]) for row in (await session.execute(query)).all()]
