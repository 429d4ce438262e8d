"""One Stripe customer per user, created on first need and reused ever after."""

from __future__ import annotations

from graphql_payments.customers import repository
from graphql_payments.db import Database
from graphql_payments.gateway import PaymentGateway


async def ensure_customer(db: Database, gateway: PaymentGateway, user_id: str) -> str:
    """The user's Stripe customer id, creating the customer when the user has none.

    Concurrent first calls send Stripe the same idempotency key, so they get the same customer.
    """
    async with db.reading() as session:
        existing = await repository.stripe_customer_id(session, user_id)
    if existing is not None:
        return existing
    created = await gateway.create_customer(user_id=user_id, idempotency_key=f"customer-{user_id}")
    async with db.transaction() as session:
        return await repository.insert_if_absent(session, user_id=user_id, customer_id=created)
