"""SQL for refunds."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.refunds.models import Refund, RefundStatus


async def pending_for_payment(session: AsyncSession, payment_id: str) -> Refund | None:
    """The payment's refund that was recorded but not yet confirmed by Stripe, if any."""
    query = (
        select(Refund)
        .where(Refund.payment_id == payment_id, Refund.status == RefundStatus.PENDING)
        .order_by(Refund.created_at)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()
