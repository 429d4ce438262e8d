"""Mutations of saved payment methods: add, set default, remove."""

from __future__ import annotations

import strawberry

from graphql_payments.customers.types import (
    AddPaymentMethodInput,
    AddPaymentMethodResult,
    AddPaymentMethodSuccess,
    PaymentMethod,
    RemovePaymentMethodInput,
    RemovePaymentMethodResult,
    RemovePaymentMethodSuccess,
    SetDefaultPaymentMethodInput,
    SetDefaultPaymentMethodResult,
    SetDefaultPaymentMethodSuccess,
)
from graphql_payments.graphql import permissions
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import mutation


@strawberry.type
class CustomerMutations:
    @mutation(description="Start saving a card for off-session payments (Checkout in setup mode).")
    async def add_payment_method(
        self, info: Info, input: AddPaymentMethodInput
    ) -> AddPaymentMethodResult:
        user_id = permissions.user_id(info)
        setup = await info.context.services.payment_methods.add(
            user_id, return_url=input.return_url, idempotency_key=input.idempotency_key
        )
        return AddPaymentMethodSuccess(
            setup_url=setup.setup_url,
            client_secret=setup.client_secret,
            session_id=setup.session_id,
        )

    @mutation(description="Make one of your saved cards the default.")
    async def set_default_payment_method(
        self, info: Info, input: SetDefaultPaymentMethodInput
    ) -> SetDefaultPaymentMethodResult:
        user_id = permissions.user_id(info)
        card = await info.context.services.payment_methods.set_default(
            user_id, str(input.payment_method_id)
        )
        return SetDefaultPaymentMethodSuccess(payment_method=PaymentMethod.of(card))

    @mutation(
        description=(
            "Remove a saved card (detached at Stripe). An autopay that used it falls back to "
            "the default card, or pauses with NO_PAYMENT_METHOD."
        )
    )
    async def remove_payment_method(
        self, info: Info, input: RemovePaymentMethodInput
    ) -> RemovePaymentMethodResult:
        user_id = permissions.user_id(info)
        card = await info.context.services.payment_methods.remove(
            user_id, str(input.payment_method_id)
        )
        return RemovePaymentMethodSuccess(payment_method_id=strawberry.ID(card.id))
