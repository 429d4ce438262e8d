"""Autopay query: `autopay`."""

from __future__ import annotations

import strawberry

from graphql_payments.autopay.types import Autopay
from graphql_payments.graphql import permissions
from graphql_payments.graphql.context import Info


@strawberry.type
class AutopayQueries:
    @strawberry.field(
        description="Your autopay settings and state; null when never set (admins: userId)."
    )
    async def autopay(self, info: Info, user_id: str | None = None) -> Autopay | None:
        target = permissions.acting_for(info, user_id)
        found = await info.context.services.autopay.view(target)
        if found is None:
            return None
        autopay, card = found
        return Autopay.of(autopay, card=card)
