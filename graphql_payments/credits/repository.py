"""SQL for the credit ledger: idempotent entries, balances and the invariant checks."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.credits.models import CreditEntry, EntryReason
from graphql_payments.db import insert_for
from graphql_payments.payments.models import Payment, PaymentKind
from graphql_payments.payments.states import PAID_STATUSES
from graphql_payments.refunds.models import Dispute, Refund, RefundStatus


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


async def taken_back(session: AsyncSession, payment_id: str) -> int:
    """Credits the payment's refunds currently hold taken back (net of restorations)."""
    query = select(func.coalesce(func.sum(CreditEntry.delta), 0)).where(
        CreditEntry.payment_id == payment_id,
        CreditEntry.reason.in_((EntryReason.REFUND, EntryReason.REFUND_RESTORED)),
    )
    return -int((await session.execute(query)).scalar_one())


async def refunds_out_of_line(session: AsyncSession) -> list[tuple[str, int, int]]:
    """Credit purchases whose refund entries differ from their refunded share of credits."""
    taken = (
        select(CreditEntry.payment_id, (-func.sum(CreditEntry.delta)).label("taken"))
        .where(CreditEntry.reason.in_((EntryReason.REFUND, EntryReason.REFUND_RESTORED)))
        .group_by(CreditEntry.payment_id)
        .subquery()
    )
    query = (
        select(Payment.id, Payment.credits, Payment.refunded_amount, Payment.amount, taken.c.taken)
        .outerjoin(taken, taken.c.payment_id == Payment.id)
        .where(Payment.kind == PaymentKind.CREDIT_PURCHASE, Payment.credits.is_not(None))
    )
    out = []
    for payment_id, credits, refunded, amount, took in (await session.execute(query)).all():
        expected = credits * refunded // amount if amount else 0
        if int(took or 0) != expected:
            out.append((str(payment_id), expected, int(took or 0)))
    return out


async def disputes_out_of_line(session: AsyncSession) -> list[str]:
    """Disputes whose hold and release entries do not match their state."""
    entries = select(CreditEntry.reference, CreditEntry.reason, CreditEntry.delta).where(
        CreditEntry.reason.in_((EntryReason.DISPUTE_HOLD, EntryReason.DISPUTE_RELEASED))
    )
    found: dict[tuple[str, EntryReason], int] = {
        (str(ref), reason): int(delta)
        for ref, reason, delta in (await session.execute(entries)).all()
    }
    problems = []
    for dispute in (await session.execute(select(Dispute))).scalars():
        hold = found.get((dispute.id, EntryReason.DISPUTE_HOLD), 0)
        released = found.get((dispute.id, EntryReason.DISPUTE_RELEASED), 0)
        expected_release = dispute.credits_held if dispute.status == "won" else 0
        if hold != -dispute.credits_held or released != expected_release:
            problems.append(
                f"dispute {dispute.id} ({dispute.status}) holds {-hold} and released {released} "
                f"credits, expected {dispute.credits_held} and {expected_release}"
            )
    return problems


async def refund_totals_out_of_line(session: AsyncSession) -> list[str]:
    """Payments whose refunded total is not the sum of their succeeded refunds, or too much."""
    succeeded = (
        select(Refund.payment_id, func.sum(Refund.amount).label("total"))
        .where(Refund.status == RefundStatus.SUCCEEDED)
        .group_by(Refund.payment_id)
        .subquery()
    )
    query = select(
        Payment.id,
        Payment.kind,
        Payment.amount,
        Payment.captured_amount,
        Payment.refunded_amount,
        Payment.dispute_lost_amount,
        func.coalesce(succeeded.c.total, 0),
    ).outerjoin(succeeded, succeeded.c.payment_id == Payment.id)
    problems = []
    for pid, kind, amount, captured, refunded, lost, total in (await session.execute(query)).all():
        basis = (captured or 0) if kind is PaymentKind.ESCROW else amount
        if refunded != total:
            problems.append(
                f"payment {pid} shows {refunded} refunded but its refunds sum to {total}"
            )
        if refunded + lost > basis:
            problems.append(f"payment {pid} returned {refunded + lost}, more than {basis} paid")
    return problems
