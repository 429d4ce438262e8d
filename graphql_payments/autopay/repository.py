"""SQL for autopays and their period claims."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.autopay.models import Autopay, AutopayPeriod, AutopayStatus, Trigger
from graphql_payments.db import insert_for
from graphql_payments.ledger.models import CreditEntry
from graphql_payments.payments.models import Payment, PaymentKind, PaymentStatus

IN_FLIGHT = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)


async def for_user(session: AsyncSession, user_id: str, *, lock: bool = False) -> Autopay | None:
    query = select(Autopay).where(Autopay.user_id == user_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def claim_row(session: AsyncSession, autopay_id: str) -> Autopay | None:
    """The autopay, row-locked for this transaction (None when there is none).

    A check that holds the row already (another process's sweep, a nudge in this one) is
    waited for, never skipped: it may have read the time before the clock moved and find
    nothing due, while this one, at its own time, has a charge due. Claims are short (no
    Stripe call inside) and this lock is the transaction's first, so the wait is brief and
    cannot close a cycle of locks."""
    query = select(Autopay).where(Autopay.id == autopay_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def due(session: AsyncSession, now: dt.datetime, *, limit: int = 500) -> list[str]:
    """Autopays that may have something to charge now: a monthly top-up due, a balance below
    the threshold, or a retry due."""
    balance = (
        select(func.coalesce(func.sum(CreditEntry.delta), 0))
        .where(CreditEntry.user_id == Autopay.user_id)
        .scalar_subquery()
    )
    query = (
        select(Autopay.id)
        .where(
            Autopay.enabled.is_(True),
            or_(
                and_(
                    Autopay.status == AutopayStatus.ACTIVE,
                    or_(
                        Autopay.next_charge_at <= now,
                        and_(Autopay.below_balance.is_not(None), balance < Autopay.below_balance),
                    ),
                ),
                and_(Autopay.status == AutopayStatus.PAST_DUE, Autopay.retry_at <= now),
            ),
        )
        .order_by(Autopay.id)
        .limit(limit)
    )
    return [str(row) for row in (await session.execute(query)).scalars()]


async def stalled(session: AsyncSession, before: dt.datetime) -> list[tuple[str, str]]:
    """(autopay id, payment id) of charges claimed before `before` that never reached Stripe."""
    query = select(Payment.autopay_id, Payment.id).where(
        Payment.kind == PaymentKind.AUTOPAY,
        Payment.status == PaymentStatus.PENDING,
        Payment.stripe_payment_intent_id.is_(None),
        Payment.created_at < before,
    )
    return [(str(a), str(p)) for a, p in (await session.execute(query)).all()]


async def in_flight(session: AsyncSession, autopay_id: str) -> bool:
    query = select(Payment.id).where(
        Payment.autopay_id == autopay_id, Payment.status.in_(IN_FLIGHT)
    )
    return (await session.execute(query.limit(1))).first() is not None


async def threshold_claims_on(session: AsyncSession, autopay_id: str, day: str) -> int:
    query = select(func.count(AutopayPeriod.id)).where(
        AutopayPeriod.autopay_id == autopay_id,
        AutopayPeriod.trigger == Trigger.THRESHOLD,
        AutopayPeriod.day == day,
    )
    return int((await session.execute(query)).scalar_one())


async def claim_period(
    session: AsyncSession,
    *,
    autopay_id: str,
    period: str,
    trigger: Trigger,
    now: dt.datetime,
) -> AutopayPeriod | None:
    """Insert the period's claim; None when it was claimed already (by anyone)."""
    result = await session.execute(
        insert_for(session, AutopayPeriod)
        .values(
            autopay_id=autopay_id,
            period=period,
            trigger=trigger,
            day=now.date().isoformat(),
            attempts=1,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["autopay_id", "period"])
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return await period_named(session, autopay_id, period)


async def period_named(session: AsyncSession, autopay_id: str, period: str) -> AutopayPeriod | None:
    query = select(AutopayPeriod).where(
        AutopayPeriod.autopay_id == autopay_id, AutopayPeriod.period == period
    )
    return (await session.execute(query)).scalar_one_or_none()


async def period_of(session: AsyncSession, payment_id: str) -> AutopayPeriod | None:
    query = select(AutopayPeriod).where(AutopayPeriod.payment_id == payment_id)
    return (await session.execute(query)).scalar_one_or_none()
