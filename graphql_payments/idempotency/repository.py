"""SQL for idempotency keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.db import execute_core, per_dialect
from graphql_payments.idempotency.models import IdempotencyKey

_GET = select(IdempotencyKey.request_hash, IdempotencyKey.resource_id).where(
    IdempotencyKey.scope == bindparam("scope"),
    IdempotencyKey.user_id == bindparam("owner"),
    IdempotencyKey.key == bindparam("key"),
)


@per_dialect
def _claim(insert: Any) -> Any:
    return insert(IdempotencyKey).on_conflict_do_nothing(index_elements=["scope", "user_id", "key"])


async def get(session: AsyncSession, *, scope: str, owner: str, key: str) -> Row[str, str] | None:
    """The stored key's `request_hash` and `resource_id`, if it is stored."""
    params = {"scope": scope, "owner": owner, "key": key}
    return (await session.execute(_GET, params)).first()


async def insert(
    session: AsyncSession, *, scope: str, owner: str, key: str, digest: str, resource_id: str
) -> bool:
    """Store the key for `resource_id`; False when another transaction stored it first (on
    PostgreSQL, a concurrent insert of the same key waits for that transaction to end)."""
    row = {
        "scope": scope,
        "user_id": owner,
        "key": key,
        "request_hash": digest,
        "resource_id": resource_id,
    }
    result = await execute_core(session, _claim(session), row)
    return bool(result.rowcount)


async def delete_older_than(session: AsyncSession, cutoff: dt.datetime) -> int:
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
