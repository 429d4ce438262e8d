"""Autopay mutation: `autopay`."""

from __future__ import annotations

import strawberry

from graphql_payments.autopay.types import Autopay, AutopayInput, AutopayResult, AutopaySuccess
from graphql_payments.graphql import permissions
from graphql_payments.graphql.audit import for_someone_else
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import mutation


@strawberry.type
class AutopayMutations:
    @mutation(
        description=(
            "Set up, change, re-enable or turn off your automatic top-ups. Re-enabling (or "
            "another card) resumes a paused autopay. Admins and services may pass userId."
        ),
        audit="autopay",
        audit_if=for_someone_else,
    )
    async def autopay(self, info: Info, input: AutopayInput) -> AutopayResult:
        user_id = permissions.acting_for(info, input.user_id)
        autopay, card = await info.context.services.autopay.configure(user_id, input.to_request())
        return AutopaySuccess(autopay=Autopay.of(autopay, card=card))
