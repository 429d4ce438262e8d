"""SQL for refunds and disputes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.refunds.models import Dispute, Refund, RefundStatus

# Refunds that count against what is left to refund.
RESERVED = (RefundStatus.PENDING, RefundStatus.SUCCEEDED)


async def get(session: AsyncSession, refund_id: str, *, lock: bool = False) -> Refund | None:
    """The refund as the database holds it now (never a stale copy from the session)."""
    return await session.get(
        Refund, refund_id, with_for_update=lock or None, populate_existing=True
    )


async def by_stripe_id(session: AsyncSession, stripe_refund_id: str) -> Refund | None:
    query = (
        select(Refund)
        .where(Refund.stripe_refund_id == stripe_refund_id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def pending_for_payment(session: AsyncSession, payment_id: str) -> Refund | None:
    """The payment's refund that was recorded but not yet confirmed by Stripe, if any."""
    query = (
        select(Refund)
        .where(Refund.payment_id == payment_id, Refund.status == RefundStatus.PENDING)
        .order_by(Refund.created_at)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def total(session: AsyncSession, payment_id: str, statuses: Sequence[RefundStatus]) -> int:
    query = select(func.coalesce(func.sum(Refund.amount), 0)).where(
        Refund.payment_id == payment_id, Refund.status.in_(statuses)
    )
    return int((await session.execute(query)).scalar_one())


async def planned_reversals(session: AsyncSession, payment_id: str) -> int:
    query = select(func.coalesce(func.sum(Refund.transfer_reversal), 0)).where(
        Refund.payment_id == payment_id
    )
    return int((await session.execute(query)).scalar_one())


async def for_payments(session: AsyncSession, payment_ids: Sequence[str]) -> list[Refund]:
    query = select(Refund).where(Refund.payment_id.in_(payment_ids)).order_by(Refund.created_at)
    return list((await session.execute(query)).scalars())


async def dispute_by_stripe_id(session: AsyncSession, stripe_dispute_id: str) -> Dispute | None:
    query = select(Dispute).where(Dispute.stripe_dispute_id == stripe_dispute_id)
    return (await session.execute(query)).scalar_one_or_none()


async def disputes_for_payments(session: AsyncSession, payment_ids: Sequence[str]) -> list[Dispute]:
    query = select(Dispute).where(Dispute.payment_id.in_(payment_ids)).order_by(Dispute.created_at)
    return list((await session.execute(query)).scalars())


async def has_open_dispute(session: AsyncSession, payment_id: str) -> bool:
    return any(d.is_open for d in await disputes_for_payments(session, [payment_id]))
