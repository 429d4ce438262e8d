"""The Stripe boundary: the only package that imports `stripe`.

Services depend on `PaymentGateway`, the small protocol of what they need; `StripeGateway`
implements it on the official SDK, against real Stripe or the sandbox.
"""

from __future__ import annotations

from typing import Any, Protocol

from graphql_payments.gateway.objects import (
    PAYMENT_ID_KEY,
    REFUND_ID_KEY,
    StripeAccount,
    StripeCharge,
    StripeCheckoutSession,
    StripeCustomer,
    StripeDispute,
    StripePaymentError,
    StripePaymentIntent,
    StripePaymentMethod,
    StripeRefund,
    StripeSetupIntent,
    StripeSetupSession,
    StripeTransfer,
)
from graphql_payments.gateway.stripe_gateway import StripeGateway, sign_webhook, verify_webhook


class PaymentGateway(Protocol):
    async def create_customer(
        self, *, user_id: str, idempotency_key: str, email: str | None = None
    ) -> str: ...

    async def create_checkout_session(
        self,
        *,
        amount: int,
        currency: str,
        name: str,
        description: str | None,
        customer_id: str,
        success_url: str,
        cancel_url: str,
        metadata: dict[str, str],
        client_reference_id: str,
        idempotency_key: str,
    ) -> StripeCheckoutSession: ...

    async def retrieve_checkout_session(self, session_id: str) -> StripeCheckoutSession: ...

    async def retrieve_payment_intent(self, payment_intent_id: str) -> StripePaymentIntent: ...

    async def authorize_payment(
        self,
        *,
        amount: int,
        currency: str,
        customer_id: str,
        payment_method_id: str,
        description: str | None,
        return_url: str | None,
        transfer_group: str | None,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> StripePaymentIntent: ...

    async def capture_payment(
        self, payment_intent_id: str, *, amount: int, idempotency_key: str
    ) -> StripePaymentIntent: ...

    async def cancel_payment(
        self, payment_intent_id: str, *, idempotency_key: str
    ) -> StripePaymentIntent: ...

    async def create_setup_session(
        self,
        *,
        customer_id: str,
        currency: str,
        success_url: str,
        cancel_url: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> StripeSetupSession: ...

    async def retrieve_setup_intent(self, setup_intent_id: str) -> StripeSetupIntent: ...

    async def retrieve_payment_method(self, payment_method_id: str) -> StripePaymentMethod: ...

    async def retrieve_customer(self, customer_id: str) -> StripeCustomer: ...

    async def set_default_payment_method(
        self, customer_id: str, payment_method_id: str, *, idempotency_key: str
    ) -> StripeCustomer: ...

    async def detach_payment_method(
        self, payment_method_id: str, *, idempotency_key: str
    ) -> StripePaymentMethod: ...

    async def charge_off_session(
        self,
        *,
        amount: int,
        currency: str,
        customer_id: str,
        payment_method_id: str,
        description: str | None,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> StripePaymentIntent: ...

    async def confirm_on_session(
        self,
        payment_intent_id: str,
        *,
        payment_method_id: str,
        return_url: str,
        idempotency_key: str,
    ) -> StripePaymentIntent: ...

    async def retrieve_account(self, account_id: str) -> StripeAccount: ...

    async def create_transfer(
        self,
        *,
        amount: int,
        currency: str,
        destination: str,
        transfer_group: str,
        source_transaction: str | None,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> StripeTransfer: ...

    async def reverse_transfer(
        self, transfer_id: str, *, amount: int, metadata: dict[str, str], idempotency_key: str
    ) -> StripeTransfer: ...

    async def list_refunds(self, payment_intent_id: str) -> list[StripeRefund]: ...

    async def list_events(
        self, *, created_gte: int, types: list[str] | None = None, limit: int = 10_000
    ) -> list[dict[str, Any]]: ...

    async def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int,
        reason: str | None,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> StripeRefund: ...


__all__ = [
    "PAYMENT_ID_KEY",
    "REFUND_ID_KEY",
    "PaymentGateway",
    "StripeAccount",
    "StripeCharge",
    "StripeCheckoutSession",
    "StripeCustomer",
    "StripeDispute",
    "StripeGateway",
    "StripePaymentError",
    "StripePaymentIntent",
    "StripePaymentMethod",
    "StripeRefund",
    "StripeSetupIntent",
    "StripeSetupSession",
    "StripeTransfer",
    "sign_webhook",
    "verify_webhook",
]
