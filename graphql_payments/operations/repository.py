"""SQL for the repair sweeps, their claims and cursors, and the audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.db import insert_for
from graphql_payments.operations.models import AuditRecord, RepairClaim, SweepState
from graphql_payments.payments.models import Payment, PaymentStatus
from graphql_payments.refunds.models import Refund, RefundStatus

WAITING = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)


async def claim(
    session: AsyncSession,
    *,
    kind: str,
    target_id: str,
    now: dt.datetime,
    retry_in: dt.timedelta,
) -> int | None:
    """Take `target_id` for one repair attempt unless another process holds it or it is not due.

    Returns the number of this attempt (1 for the first), or None when not taken.
    """
    await session.execute(
        insert_for(session, RepairClaim)
        .values(kind=kind, target_id=target_id, attempts=0, next_attempt_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["kind", "target_id"])
    )
    result = await session.execute(
        update(RepairClaim)
        .where(
            RepairClaim.kind == kind,
            RepairClaim.target_id == target_id,
            RepairClaim.next_attempt_at <= now,
        )
        .values(attempts=RepairClaim.attempts + 1, next_attempt_at=now + retry_in, updated_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    attempts = await session.scalar(
        select(RepairClaim.attempts).where(
            RepairClaim.kind == kind, RepairClaim.target_id == target_id
        )
    )
    return int(attempts or 0)


async def note_error(session: AsyncSession, *, kind: str, target_id: str, error: str) -> None:
    await session.execute(
        update(RepairClaim)
        .where(RepairClaim.kind == kind, RepairClaim.target_id == target_id)
        .values(last_error=error[:2000])
    )


async def release_claim(session: AsyncSession, *, kind: str, target_id: str) -> None:
    """Forget a claim whose work is done, so a later problem starts counting afresh."""
    await session.execute(
        delete(RepairClaim).where(RepairClaim.kind == kind, RepairClaim.target_id == target_id)
    )


def _due(kind: str, target: object, now: dt.datetime) -> object:
    """No claim on the target holds it past `now`."""
    return (
        ~select(RepairClaim.target_id)
        .where(
            RepairClaim.kind == kind,
            RepairClaim.target_id == target,
            RepairClaim.next_attempt_at > now,
        )
        .exists()
    )


async def stale_payments(
    session: AsyncSession, *, older_than: dt.datetime, now: dt.datetime, limit: int
) -> list[str]:
    """Payments still waiting for Stripe (PENDING, REQUIRES_ACTION) since before `older_than`."""
    query = (
        select(Payment.id)
        .where(
            Payment.status.in_(WAITING),
            Payment.pending_operation.is_(None),
            Payment.updated_at < older_than,
            or_(
                Payment.stripe_checkout_session_id.is_not(None),
                Payment.stripe_payment_intent_id.is_not(None),
            ),
            _due("payment", Payment.id, now),  # type: ignore[arg-type]
        )
        .order_by(Payment.updated_at)
        .limit(limit)
    )
    return [str(row) for row in (await session.scalars(query)).all()]


async def half_done_operations(
    session: AsyncSession, *, older_than: dt.datetime, now: dt.datetime, limit: int
) -> list[tuple[str, str]]:
    """(payment id, operation) of releases and reverts claimed before `older_than` and not done."""
    query = (
        select(Payment.id, Payment.pending_operation)
        .where(
            Payment.pending_operation.is_not(None),
            Payment.updated_at < older_than,
            _due("operation", Payment.id, now),  # type: ignore[arg-type]
        )
        .order_by(Payment.updated_at)
        .limit(limit)
    )
    return [(str(row[0]), str(row[1])) for row in (await session.execute(query)).all()]


async def unfinished_refunds(
    session: AsyncSession, *, older_than: dt.datetime, now: dt.datetime, limit: int
) -> list[str]:
    """Refunds left PENDING, or succeeded with the runner's share not yet taken back.

    Refunds of a payment with a release or revert under way are left to that operation.
    """
    query = (
        select(Refund.id)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(
            Refund.updated_at < older_than,
            Payment.pending_operation.is_(None),
            or_(
                Refund.status == RefundStatus.PENDING,
                and_(
                    Refund.status == RefundStatus.SUCCEEDED,
                    Refund.transfer_reversal > 0,
                    Refund.transfer_reversed.is_(False),
                    Payment.transfer_id.is_not(None),
                ),
            ),
            _due("refund", Refund.id, now),  # type: ignore[arg-type]
        )
        .order_by(Refund.updated_at)
        .limit(limit)
    )
    return [str(row) for row in (await session.scalars(query)).all()]


async def stuck_counts(session: AsyncSession, *, older_than: dt.datetime) -> dict[str, int]:
    """How many payments, operations and refunds wait longer than they should."""
    waiting = await session.scalar(
        select(func.count())
        .select_from(Payment)
        .where(Payment.status.in_(WAITING), Payment.updated_at < older_than)
    )
    operations = await session.scalar(
        select(func.count())
        .select_from(Payment)
        .where(Payment.pending_operation.is_not(None), Payment.updated_at < older_than)
    )
    refunds = await session.scalar(
        select(func.count())
        .select_from(Refund)
        .where(Refund.status == RefundStatus.PENDING, Refund.updated_at < older_than)
    )
    return {
        "payment": int(waiting or 0),
        "operation": int(operations or 0),
        "refund": int(refunds or 0),
    }


async def get_state(session: AsyncSession, name: str) -> SweepState | None:
    return await session.get(SweepState, name, populate_existing=True)


async def set_state(
    session: AsyncSession, name: str, *, cursor: int | None = None, at: dt.datetime | None = None
) -> None:
    """Upsert a named state; a cursor only ever moves forward."""
    await session.execute(
        insert_for(session, SweepState)
        .values(name=name, cursor=cursor, at=at)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    values: dict[str, object] = {}
    if at is not None:
        values["at"] = at
    if cursor is not None:
        values["cursor"] = func.max(func.coalesce(SweepState.cursor, cursor), cursor)
        if session.get_bind().dialect.name == "postgresql":
            values["cursor"] = func.greatest(func.coalesce(SweepState.cursor, cursor), cursor)
    if values:
        await session.execute(update(SweepState).where(SweepState.name == name).values(values))


async def purge_claims(session: AsyncSession, *, before: dt.datetime) -> int:
    result = await session.execute(delete(RepairClaim).where(RepairClaim.updated_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def add_audit(session: AsyncSession, record: AuditRecord) -> None:
    session.add(record)
    await session.flush()


async def audit_page(
    session: AsyncSession,
    *,
    actor_id: str | None,
    payment_id: str | None,
    first: int,
    after: tuple[dt.datetime, int] | None,
) -> tuple[list[AuditRecord], bool, int]:
    """Audit records newest first, keyset-paged by (created_at, id)."""
    filters = []
    if actor_id is not None:
        filters.append(AuditRecord.actor_id == actor_id)
    if payment_id is not None:
        filters.append(AuditRecord.payment_id == payment_id)
    query = select(AuditRecord).where(*filters)
    if after is not None:
        created, record_id = after
        query = query.where(
            or_(
                AuditRecord.created_at < created,
                and_(AuditRecord.created_at == created, AuditRecord.id < record_id),
            )
        )
    query = query.order_by(AuditRecord.created_at.desc(), AuditRecord.id.desc()).limit(first + 1)
    rows = list((await session.scalars(query)).all())
    total = await session.scalar(select(func.count()).select_from(AuditRecord).where(*filters))
    return rows[:first], len(rows) > first, int(total or 0)


async def payments_with_stripe(
    session: AsyncSession, *, since: dt.datetime | None, after_id: str | None, limit: int
) -> Sequence[Payment]:
    """Payments that Stripe knows of, in id order (for `ledger verify --stripe`)."""
    query = select(Payment).where(
        or_(
            Payment.stripe_checkout_session_id.is_not(None),
            Payment.stripe_payment_intent_id.is_not(None),
        )
    )
    if since is not None:
        query = query.where(Payment.created_at >= since)
    if after_id is not None:
        query = query.where(Payment.id > after_id)
    return list((await session.scalars(query.order_by(Payment.id).limit(limit))).all())


async def reschedule(session: AsyncSession, *, kind: str, target_id: str, at: dt.datetime) -> None:
    await session.execute(
        update(RepairClaim)
        .where(RepairClaim.kind == kind, RepairClaim.target_id == target_id)
        .values(next_attempt_at=at)
    )
