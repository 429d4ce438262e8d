"""SQL for the credit ledger: idempotent entries, balances, consumption and history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.db import Reader, execute_core, per_dialect, utcnow
from graphql_payments.events.catalogue import EventType
from graphql_payments.events.outbox import record
from graphql_payments.ledger.models import CreditBalance, CreditEntry, EntryReason

_BALANCE = select(CreditBalance.balance).where(CreditBalance.user_id == bindparam("user_id"))


async def add_entry(
    session: AsyncSession,
    *,
    user_id: str,
    delta: int,
    reason: EntryReason,
    payment_id: str | None,
    reference: str = "",
) -> bool:
    """Append an entry and announce it (`credits.granted`, `credits.revoked` or
    `credits.consumed`); False (and nothing written) when the same entry already exists.

    The user's balance row moves by `delta` in the same transaction, only when the entry was
    written: an upsert that adds to the stored sum, so concurrent writers (row-locked on
    PostgreSQL, serialized on SQLite) never lose an update.
    """
    values = {
        "user_id": user_id,
        "delta": delta,
        "reason": reason,
        "payment_id": payment_id,
        "reference": reference,
    }
    # The changes that caused the entry (a payment's status) are announced first.
    await session.flush()
    result = await execute_core(session, _entry_insert(session), values)
    if not result.rowcount:
        return False
    await _move_balance(session, user_id, delta)
    await record(
        session,
        event_for(reason, delta),
        payment_id=payment_id,
        user_id=user_id,
        fields={"credits": {"delta": delta, "reason": reason.value, "reference": reference}},
    )
    return True


# Entries that give credits back or take them back; any other entry is a grant when positive
# and a use of credits (`credits.consumed`) when negative.
REVOKING = frozenset({EntryReason.REFUND, EntryReason.DISPUTE_HOLD})


def event_for(reason: EntryReason, delta: int) -> EventType:
    if delta > 0:
        return EventType.CREDITS_GRANTED
    return EventType.CREDITS_REVOKED if reason in REVOKING else EventType.CREDITS_CONSUMED


async def withdraw(session: AsyncSession, entry: CreditEntry) -> None:
    """Take back an entry this transaction wrote, and its effect on the balance row."""
    await session.delete(entry)
    await session.flush()
    await _move_balance(session, entry.user_id, -entry.delta)


@per_dialect
def _entry_insert(insert: Any) -> Any:
    return insert(CreditEntry).on_conflict_do_nothing(
        index_elements=["payment_id", "reason", "reference"]
    )


@per_dialect
def _balance_upsert(insert: Any) -> Any:
    upsert = insert(CreditBalance).values(user_id=bindparam("user_id"), balance=bindparam("delta"))
    return upsert.on_conflict_do_update(
        index_elements=["user_id"],
        set_={"balance": CreditBalance.balance + upsert.excluded.balance},
    )


async def _move_balance(session: AsyncSession, user_id: str, delta: int) -> None:
    """Add `delta` to the user's balance row (created at `delta`), in the entry's transaction."""
    await execute_core(session, _balance_upsert(session), {"user_id": user_id, "delta": delta})


async def balance(reader: Reader, user_id: str) -> int:
    """The user's balance: one primary-key read (a session or a hot-read connection)."""
    found = (await reader.execute(_BALANCE, {"user_id": user_id})).scalar_one_or_none()
    return int(found or 0)


async def balances_out_of_line(session: AsyncSession) -> list[tuple[str, int, int]]:
    """Users whose balance row differs from the sum of their entries: (user, row, sum)."""
    sums = (
        select(CreditEntry.user_id, func.sum(CreditEntry.delta).label("total"))
        .group_by(CreditEntry.user_id)
        .subquery()
    )
    entries = select(sums.c.user_id, CreditBalance.balance, sums.c.total).outerjoin(
        CreditBalance, CreditBalance.user_id == sums.c.user_id
    )
    rows = [
        (str(user), int(row or 0), int(total))
        for user, row, total in (await session.execute(entries)).all()
        if int(row or 0) != int(total)
    ]
    orphans = select(CreditBalance.user_id, CreditBalance.balance).where(
        CreditBalance.balance != 0, CreditBalance.user_id.not_in(select(sums.c.user_id))
    )
    rows += [(str(user), int(row), 0) for user, row in (await session.execute(orphans)).all()]
    return rows


async def taken_back(session: AsyncSession, payment_id: str) -> int:
    """Credits the payment's refunds currently hold taken back (net of restorations)."""
    query = select(func.coalesce(func.sum(CreditEntry.delta), 0)).where(
        CreditEntry.payment_id == payment_id,
        CreditEntry.reason.in_((EntryReason.REFUND, EntryReason.REFUND_RESTORED)),
    )
    return -int((await session.execute(query)).scalar_one())


async def lock_balance(session: AsyncSession, user_id: str) -> None:
    """Serialize the transactions that spend one user's credits until this one ends.

    PostgreSQL takes a transaction-scoped advisory lock on the user; SQLite write transactions
    are serialized already (`BEGIN IMMEDIATE`).
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(user_id))))


async def add_consumption(
    session: AsyncSession, *, user_id: str, credits: int, reference: str
) -> CreditEntry:
    entry = CreditEntry(
        user_id=user_id,
        delta=-credits,
        reason=EntryReason.CONSUMPTION,
        payment_id=None,
        reference=reference,
        created_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    await _move_balance(session, user_id, -credits)
    return entry


async def entry(session: AsyncSession, entry_id: int) -> CreditEntry | None:
    return await session.get(CreditEntry, entry_id)


async def history(
    session: AsyncSession, user_id: str, *, first: int, after: tuple[dt.datetime, int] | None
) -> tuple[list[CreditEntry], bool, int]:
    """A user's entries, newest first (keyset on created_at, id), and how many there are."""
    query = select(CreditEntry).where(CreditEntry.user_id == user_id)
    if after is not None:
        created_at, entry_id = after
        query = query.where(
            or_(
                CreditEntry.created_at < created_at,
                and_(CreditEntry.created_at == created_at, CreditEntry.id < entry_id),
            )
        )
    query = query.order_by(CreditEntry.created_at.desc(), CreditEntry.id.desc()).limit(first + 1)
    rows = list((await session.execute(query)).scalars())
    total = select(func.count(CreditEntry.id)).where(CreditEntry.user_id == user_id)
    return rows[:first], len(rows) > first, int((await session.execute(total)).scalar_one())
