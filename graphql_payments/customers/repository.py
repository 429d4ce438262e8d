"""SQL for customers and their saved payment methods."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.customers.models import Customer, SavedPaymentMethod
from graphql_payments.db import Reader, insert_for, utcnow
from graphql_payments.gateway import StripePaymentMethod

_CUSTOMER_ID = select(Customer.stripe_customer_id).where(Customer.user_id == bindparam("user_id"))


async def stripe_customer_id(reader: Reader, user_id: str) -> str | None:
    """The user's Stripe customer id (a session or a hot-read connection)."""
    return (await reader.execute(_CUSTOMER_ID, {"user_id": user_id})).scalar_one_or_none()


async def user_for_customer(session: AsyncSession, customer_id: str) -> str | None:
    query = select(Customer.user_id).where(Customer.stripe_customer_id == customer_id)
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


# -- saved payment methods ----------------------------------------------------------------------


async def methods_for(session: AsyncSession, user_id: str) -> list[SavedPaymentMethod]:
    """The user's saved cards, oldest first."""
    query = (
        select(SavedPaymentMethod)
        .where(SavedPaymentMethod.user_id == user_id, SavedPaymentMethod.detached_at.is_(None))
        .order_by(SavedPaymentMethod.created_at, SavedPaymentMethod.id)
    )
    return list((await session.execute(query)).scalars())


async def method(
    session: AsyncSession, payment_method_id: str, *, user_id: str | None = None
) -> SavedPaymentMethod | None:
    """A saved (not detached) card; with `user_id`, only that user's."""
    query = select(SavedPaymentMethod).where(
        SavedPaymentMethod.id == payment_method_id, SavedPaymentMethod.detached_at.is_(None)
    )
    if user_id is not None:
        query = query.where(SavedPaymentMethod.user_id == user_id)
    return (await session.execute(query)).scalar_one_or_none()


async def default_method(session: AsyncSession, user_id: str) -> SavedPaymentMethod | None:
    query = select(SavedPaymentMethod).where(
        SavedPaymentMethod.user_id == user_id,
        SavedPaymentMethod.detached_at.is_(None),
        SavedPaymentMethod.is_default.is_(True),
    )
    return (await session.execute(query)).scalars().first()


async def save_method(session: AsyncSession, *, user_id: str, method: StripePaymentMethod) -> bool:
    """Insert or refresh our copy of a card; a card once detached stays detached.
    True when the card was not known before."""
    created = (
        dt.datetime.fromtimestamp(method.created, dt.UTC)
        if method.created is not None
        else utcnow()
    )
    values = {
        "brand": method.brand,
        "last4": method.last4,
        "exp_month": method.exp_month,
        "exp_year": method.exp_year,
        "updated_at": utcnow(),
    }
    inserted = await session.execute(
        insert_for(session, SavedPaymentMethod)
        .values(
            id=method.id,
            user_id=user_id,
            stripe_customer_id=method.customer_id,
            type=method.type,
            is_default=False,
            created_at=created,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    if inserted.rowcount:  # type: ignore[attr-defined]
        return True
    await session.execute(
        update(SavedPaymentMethod)
        .where(SavedPaymentMethod.id == method.id, SavedPaymentMethod.detached_at.is_(None))
        .values(**values)
    )
    return False


async def mark_detached(session: AsyncSession, payment_method_id: str) -> str | None:
    """Forget a card (keeping a tombstone); the user it belonged to, if it was saved."""
    row = await session.get(SavedPaymentMethod, payment_method_id)
    if row is None:
        return None
    if row.detached_at is None:
        row.detached_at = utcnow()
        row.is_default = False
    return row.user_id


async def set_default(session: AsyncSession, user_id: str, payment_method_id: str | None) -> None:
    """Mark which of the user's cards is the customer's default (None: no default)."""
    await session.execute(
        update(SavedPaymentMethod)
        .where(SavedPaymentMethod.user_id == user_id)
        .values(
            is_default=(
                SavedPaymentMethod.id == payment_method_id
                if payment_method_id is not None
                else False
            )
        )
    )
