"""The audit trail: who changed what, through an admin or service mutation or a command.

Each record keeps the actor (user id, role, how they authenticated), the action, its input,
its result (the success or the error code), when, and the request id. Records are kept for
good: the retention purge leaves them alone.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from graphql_payments.db import Database, utcnow
from graphql_payments.operations import repository
from graphql_payments.operations.models import AuditRecord

MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: str | None
    role: str
    authenticated_by: str  # jwt, shared_secret, cli


@dataclass(frozen=True, slots=True)
class AuditPage:
    records: list[AuditRecord]
    has_next: bool
    total: int


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


class AuditTrail:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        actor: Actor,
        *,
        action: str,
        input: dict[str, Any],
        result: dict[str, Any],
        payment_id: str | None = None,
        request_id: str | None = None,
    ) -> None:
        async with self.db.transaction() as session:
            await repository.add_audit(
                session,
                AuditRecord(
                    created_at=utcnow(),
                    actor_id=actor.user_id,
                    actor_role=actor.role,
                    authenticated_by=actor.authenticated_by,
                    action=action,
                    payment_id=payment_id,
                    input=_json(input),
                    result=_json(result),
                    request_id=request_id,
                ),
            )

    async def page(
        self,
        *,
        actor_id: str | None,
        payment_id: str | None,
        first: int,
        after: tuple[dt.datetime, int] | None,
    ) -> AuditPage:
        async with self.db.reading() as session:
            rows, has_next, total = await repository.audit_page(
                session,
                actor_id=actor_id,
                payment_id=payment_id,
                first=max(0, min(first, MAX_PAGE)),
                after=after,
            )
        return AuditPage(rows, has_next, total)
