"""The ledger's invariants: what `graphql-payments ledger verify` checks.

The ledger is reconciled against payments, refunds and disputes. It reads those tables as
plain tables (the few columns below; `tests/test_structure.py` checks they match the models),
so that it depends on no domain package while every domain depends on it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, column, func, or_, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.db import Database
from graphql_payments.ledger.models import CreditEntry, EntryReason
from graphql_payments.ledger.repository import balances_out_of_line

payments = table(
    "payments",
    column("id", String),
    column("kind", String),
    column("status", String),
    column("amount", BigInteger),
    column("credits", Integer),
    column("captured_amount", BigInteger),
    column("refunded_amount", BigInteger),
    column("dispute_lost_amount", BigInteger),
)
refunds = table(
    "refunds",
    column("payment_id", String),
    column("amount", BigInteger),
    column("status", String),
)
disputes = table(
    "disputes",
    column("id", String),
    column("status", String),
    column("credits_held", BigInteger),
)

CREDIT_PURCHASE = "CREDIT_PURCHASE"
AUTOPAY = "AUTOPAY"
# Kinds of payment that buy credits (payments.service.CREDIT_KINDS).
CREDIT_KINDS = (CREDIT_PURCHASE, AUTOPAY)
ESCROW = "ESCROW"
# Payment statuses in which the customer has paid (payments.states.PAID_STATUSES).
PAID = ("SUCCEEDED", "RELEASED", "PARTIALLY_REFUNDED", "REFUNDED", "DISPUTED")
REFUND_SUCCEEDED = "SUCCEEDED"


async def verify(db: Database) -> list[str]:
    """Every broken ledger invariant, as a sentence; empty when the ledger is sound."""
    problems: list[str] = []
    async with db.reading() as session:
        for payment_id, count in await purchases_not_credited_once(session):
            problems.append(
                f"payment {payment_id} was paid but credited {count} time(s) "
                "(or with the wrong number of credits)"
            )
        for payment_id in await credited_unpaid(session):
            problems.append(f"payment {payment_id} was credited but never paid")
        for payment_id, expected, taken in await refunds_out_of_line(session):
            problems.append(
                f"payment {payment_id}: refunds took back {taken} credits, expected {expected}"
            )
        problems.extend(await refund_totals_out_of_line(session))
        problems.extend(await disputes_out_of_line(session))
        problems.extend(await consumption_out_of_line(session))
        for user_id, kept, total in await balances_out_of_line(session):
            problems.append(
                f"user {user_id}: the balance row holds {kept} credits, the entries sum to {total}"
            )
    return problems


async def consumption_out_of_line(session: AsyncSession) -> list[str]:
    """Consumption entries that add credits or belong to a payment."""
    query = select(CreditEntry.id, CreditEntry.user_id).where(
        CreditEntry.reason == EntryReason.CONSUMPTION,
        or_(CreditEntry.delta >= 0, CreditEntry.payment_id.is_not(None)),
    )
    return [
        f"consumption entry {entry_id} of {user_id} does not take credits away"
        for entry_id, user_id in (await session.execute(query)).all()
    ]


async def purchases_not_credited_once(session: AsyncSession) -> list[tuple[str, int]]:
    """Paid credit purchases and autopay top-ups whose PURCHASE entries are not exactly one of
    `credits`."""
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
        select(payments.c.id, func.coalesce(credited.c.n, 0))
        .outerjoin(credited, credited.c.payment_id == payments.c.id)
        .where(
            payments.c.kind.in_(CREDIT_KINDS),
            payments.c.status.in_(PAID),
            or_(credited.c.n.is_(None), credited.c.n != 1, credited.c.total != payments.c.credits),
        )
    )
    return [(row[0], int(row[1])) for row in (await session.execute(query)).all()]


async def credited_unpaid(session: AsyncSession) -> list[str]:
    """Payments with a PURCHASE entry that were never paid."""
    query = (
        select(CreditEntry.payment_id)
        .join(payments, payments.c.id == CreditEntry.payment_id)
        .where(
            CreditEntry.reason == EntryReason.PURCHASE,
            payments.c.status.not_in(PAID),
        )
        .distinct()
    )
    return [str(row[0]) for row in (await session.execute(query)).all()]


async def refunds_out_of_line(session: AsyncSession) -> list[tuple[str, int, int]]:
    """Credit purchases whose refund entries differ from their refunded share of credits."""
    taken = (
        select(CreditEntry.payment_id, (-func.sum(CreditEntry.delta)).label("taken"))
        .where(CreditEntry.reason.in_((EntryReason.REFUND, EntryReason.REFUND_RESTORED)))
        .group_by(CreditEntry.payment_id)
        .subquery()
    )
    query = (
        select(
            payments.c.id,
            payments.c.credits,
            payments.c.refunded_amount,
            payments.c.amount,
            taken.c.taken,
        )
        .outerjoin(taken, taken.c.payment_id == payments.c.id)
        .where(payments.c.kind.in_(CREDIT_KINDS), payments.c.credits.is_not(None))
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
    query = select(disputes.c.id, disputes.c.status, disputes.c.credits_held)
    for dispute_id, status, held in (await session.execute(query)).all():
        hold = found.get((dispute_id, EntryReason.DISPUTE_HOLD), 0)
        released = found.get((dispute_id, EntryReason.DISPUTE_RELEASED), 0)
        expected_release = held if status == "won" else 0
        if hold != -held or released != expected_release:
            problems.append(
                f"dispute {dispute_id} ({status}) holds {-hold} and released {released} "
                f"credits, expected {held} and {expected_release}"
            )
    return problems


async def refund_totals_out_of_line(session: AsyncSession) -> list[str]:
    """Payments whose refunded total is not the sum of their succeeded refunds, or too much."""
    succeeded = (
        select(refunds.c.payment_id, func.sum(refunds.c.amount).label("total"))
        .where(refunds.c.status == REFUND_SUCCEEDED)
        .group_by(refunds.c.payment_id)
        .subquery()
    )
    query = select(
        payments.c.id,
        payments.c.kind,
        payments.c.amount,
        payments.c.captured_amount,
        payments.c.refunded_amount,
        payments.c.dispute_lost_amount,
        func.coalesce(succeeded.c.total, 0),
    ).outerjoin(succeeded, succeeded.c.payment_id == payments.c.id)
    problems = []
    for pid, kind, amount, captured, refunded, lost, total in (await session.execute(query)).all():
        basis = (captured or 0) if kind == ESCROW else amount
        if refunded != total:
            problems.append(
                f"payment {pid} shows {refunded} refunded but its refunds sum to {total}"
            )
        if refunded + lost > basis:
            problems.append(f"payment {pid} returned {refunded + lost}, more than {basis} paid")
    return problems
