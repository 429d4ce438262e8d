"""Client idempotency keys: the same key and input returns the first result.

A key is scoped to an operation and an owner (the user, or the payment for admin operations)
and kept at least 24 hours (`KEY_TTL`); the hash of the normalized input tells a retry from a
reuse of the key for something else.

Every idempotent mutation does the same, inside the service's write transaction:

    key = idempotency.check_key(request.idempotency_key)          # before any other check
    keyed = idempotency.Request("refund", payment_id, key, idempotency.request_hash({...}))
    async with self.db.transaction() as session:
        claim = await idempotency.get_or_claim(session, keyed, new_id=new_refund_id())
        if claim.created:
            ...create the resource with id claim.resource_id (raising rolls the claim back)...
        else:
            ...load claim.resource_id...

Then it calls Stripe outside the transaction with an idempotency key derived from the
resource id, so a retry finishes the same resource.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.db import utcnow
from graphql_payments.errors import IdempotencyKeyReused, InvalidInput
from graphql_payments.idempotency import repository
from graphql_payments.idempotency.models import MAX_KEY_LENGTH, IdempotencyKey

KEY_TTL = dt.timedelta(hours=48)

__all__ = [
    "KEY_TTL",
    "MAX_KEY_LENGTH",
    "Claim",
    "IdempotencyKey",
    "Request",
    "check_key",
    "get_or_claim",
    "purge_expired",
    "request_hash",
]


@dataclass(frozen=True, slots=True)
class Request:
    """One use of a key: the operation, its owner, the key and the hash of the input."""

    scope: str
    owner: str
    key: str
    digest: str


@dataclass(frozen=True, slots=True)
class Claim:
    resource_id: str
    created: bool  # True: this request claimed the key and creates `resource_id` now


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


async def get_or_claim(session: AsyncSession, request: Request, *, new_id: str) -> Claim:
    """A claim on the key for `new_id`, or the resource this key already made.

    The claim comes first: a new key, the usual case, takes one statement, and a stored one
    two. A concurrent request with the same key waits on our claim until we commit and then
    finds our resource; a key reused with a different input raises IdempotencyKeyReused.
    """
    for _ in range(2):
        if await repository.insert(
            session,
            scope=request.scope,
            owner=request.owner,
            key=request.key,
            digest=request.digest,
            resource_id=new_id,
        ):
            return Claim(new_id, created=True)
        row = await repository.get(
            session, scope=request.scope, owner=request.owner, key=request.key
        )
        if row is not None:  # None: purged after it stopped our claim, so claim it again
            if row.request_hash != request.digest:
                raise IdempotencyKeyReused(
                    "This idempotency key was already used with a different input; use a new key."
                )
            return Claim(row.resource_id, created=False)
    raise AssertionError("an idempotency key that is neither stored nor storable")


async def purge_expired(session: AsyncSession, *, now: dt.datetime | None = None) -> int:
    return await repository.delete_older_than(session, (now or utcnow()) - KEY_TTL)
