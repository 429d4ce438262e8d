"""Client idempotency keys: the same key and input returns the first result.

A key is scoped to an operation and a user and kept at least 24 hours (`KEY_TTL`); the
hash of the normalized input tells a retry from a reuse of the key for something else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from graphql_payments.db import Base, UTCDateTime, utcnow
from graphql_payments.errors import IdempotencyKeyReused, InvalidInput

KEY_TTL = dt.timedelta(hours=48)
MAX_KEY_LENGTH = 255


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def request_hash(values: dict[str, Any]) -> str:
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    stripped = key.strip()
    if not stripped or len(stripped) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"idempotencyKey must be 1 to {MAX_KEY_LENGTH} characters.", field="idempotencyKey"
        )
    return stripped


async def find(
    session: AsyncSession, *, scope: str, user_id: str, key: str, digest: str
) -> str | None:
    """The resource id stored for this key, or None; IdempotencyKeyReused if the input differs."""
    row = await session.get(IdempotencyKey, (scope, user_id, key))
    if row is None:
        return None
    if row.request_hash != digest:
        raise IdempotencyKeyReused(
            "This idempotency key was already used with a different input; use a new key."
        )
    return row.resource_id


async def claim(
    session: AsyncSession, *, scope: str, user_id: str, key: str, digest: str, resource_id: str
) -> bool:
    """Store the key for `resource_id`; False when a concurrent request stored it first."""
    try:
        async with session.begin_nested():
            session.add(
                IdempotencyKey(
                    scope=scope,
                    user_id=user_id,
                    key=key,
                    request_hash=digest,
                    resource_id=resource_id,
                )
            )
            await session.flush()
    except IntegrityError:
        return False
    return True


async def purge_expired(session: AsyncSession, *, now: dt.datetime | None = None) -> int:
    cutoff = (now or utcnow()) - KEY_TTL
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
