"""SQL for customers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.customers.models import Customer
from graphql_payments.db import insert_for


async def stripe_customer_id(session: AsyncSession, user_id: str) -> str | None:
    query = select(Customer.stripe_customer_id).where(Customer.user_id == user_id)
    return (await session.execute(query)).scalar_one_or_none()


async def insert_if_absent(session: AsyncSession, *, user_id: str, customer_id: str) -> str:
    """Store the user's customer unless one is stored already; the stored id either way."""
    await session.execute(
        insert_for(session, Customer)
        .values(user_id=user_id, stripe_customer_id=customer_id)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    stored = await stripe_customer_id(session, user_id)
    assert stored is not None
    return stored
