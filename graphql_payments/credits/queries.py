"""Credit queries: `creditPackages` (public), `me` and `creditHistory`."""

from __future__ import annotations

import strawberry

from graphql_payments.credits.types import CreditEntry, CreditPackage
from graphql_payments.graphql import permissions
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import client_error
from graphql_payments.graphql.pagination import (
    Connection,
    Edge,
    clamp_first,
    connection,
    decode_cursor,
    encode_cursor,
)


@strawberry.type(description="The caller.")
class Me:
    user_id: str
    role: str

    @strawberry.field(description="Credits held: the sum of the caller's ledger entries.")
    async def credits_balance(self, info: Info) -> int:
        return await info.context.services.credits.balance(self.user_id)


@strawberry.type
class CreditQueries:
    @strawberry.field(description="The credit packages for sale. Open to anonymous callers.")
    def credit_packages(self, info: Info) -> list[CreditPackage]:
        return [CreditPackage.of(p) for p in info.context.services.credits.packages()]

    @strawberry.field(description="Who is calling, and their credit balance.")
    def me(self, info: Info) -> Me:
        return Me(user_id=permissions.user_id(info), role=permissions.viewer(info).role)

    @strawberry.field(
        description=(
            "Your credit ledger, newest first: purchases and autopay grants, consumption, "
            "refunds taken back, disputes held and released (admins may pass userId)."
        )
    )
    async def credit_history(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        user_id: str | None = None,
    ) -> Connection[CreditEntry]:
        target = permissions.acting_for(info, user_id)
        cursor = None
        if after:
            moment, raw_id = decode_cursor(after)
            if not raw_id.isdigit():
                raise client_error("Invalid cursor in 'after'.", "BAD_USER_INPUT")
            cursor = (moment, int(raw_id))
        page = await info.context.services.credits.history(
            target, first=clamp_first(first), after=cursor
        )
        edges = [
            Edge(cursor=encode_cursor(e.created_at, str(e.id)), node=CreditEntry.of(e))
            for e in page.entries
        ]
        return connection(edges, has_next=page.has_next, total=page.total)
