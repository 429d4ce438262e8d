"""Migrations and data upkeep: the migrated schema matches the models on every backend, and
idempotency keys expire."""

from __future__ import annotations

import asyncio
import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from graphql_payments import idempotency
from graphql_payments.db import utcnow
from graphql_payments.idempotency import IdempotencyKey
from graphql_payments.maintenance import purge
from graphql_payments.migrations import current_revision, head_revision
from graphql_payments.models import metadata
from graphql_payments.services import Services


def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    async def differences() -> list[object]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                    )
                )
        finally:
            await engine.dispose()

    assert asyncio.run(differences()) == []
    assert asyncio.run(current_revision(database_url)) == head_revision()


async def test_idempotency_keys_expire_after_their_ttl(services: Services) -> None:
    # given: one key past its time, one fresh
    old = utcnow() - idempotency.KEY_TTL - dt.timedelta(minutes=1)
    async with services.db.transaction() as session:
        session.add(IdempotencyKey(scope="s", user_id="u", key="old", request_hash="h",
                                   resource_id="r", created_at=old))  # fmt: skip
        session.add(IdempotencyKey(scope="s", user_id="u", key="new", request_hash="h",
                                   resource_id="r"))  # fmt: skip
    # when
    purged = await purge(services)
    # then
    assert purged == 1
    async with services.db.reading() as session:
        assert await session.get(IdempotencyKey, ("s", "u", "new")) is not None
