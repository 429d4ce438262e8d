"""Credit queries: `creditPackages` (public) and `me`."""

from __future__ import annotations

import strawberry

from graphql_payments.credits.types import CreditPackage
from graphql_payments.graphql import permissions
from graphql_payments.graphql.context import Info


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
        viewer = permissions.viewer(info)
        return Me(user_id=viewer.require_user_id(), role=viewer.role)
