"""SQL for idempotency keys."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.idempotency.models import IdempotencyKey


async def get(session: AsyncSession, *, scope: str, owner: str, key: str) -> IdempotencyKey | None:
    return await session.get(IdempotencyKey, (scope, owner, key))


async def insert(
    session: AsyncSession, *, scope: str, owner: str, key: str, digest: str, resource_id: str
) -> bool:
    """Store the key for `resource_id`; False when another transaction stored it first."""
    try:
        async with session.begin_nested():
            session.add(
                IdempotencyKey(
                    scope=scope,
                    user_id=owner,
                    key=key,
                    request_hash=digest,
                    resource_id=resource_id,
                )
            )
            await session.flush()
    except IntegrityError:
        return False
    return True


async def delete_older_than(session: AsyncSession, cutoff: dt.datetime) -> int:
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
