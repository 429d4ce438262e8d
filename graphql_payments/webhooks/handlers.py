"""What each Stripe event type does to our records.

A handler returns normally when the event is applied (HANDLED), raises `NotOurs` for an object
we did not create (IGNORED), and `RetryLater` when the event names one of our payments that is
not in the database yet (its transaction has not committed); the inbox retries those.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.customers.service import PaymentMethodService
from graphql_payments.gateway import (
    PAYMENT_ID_KEY,
    StripeCharge,
    StripeCheckoutSession,
    StripeCustomer,
    StripeDispute,
    StripePaymentIntent,
    StripePaymentMethod,
    StripeSetupIntent,
    StripeTransfer,
)
from graphql_payments.payments.models import Payment, PaymentKind
from graphql_payments.payments.service import PaymentService
from graphql_payments.refunds.service import RefundService

if TYPE_CHECKING:
    from graphql_payments.autopay.service import AutopayService


class NotOurs(Exception):
    pass


class RetryLater(Exception):
    pass


Handler = Callable[[Mapping[str, Any]], Awaitable[None]]
SessionHandler = Callable[[AsyncSession], Awaitable[None]]
CheckoutHandler = Callable[[Mapping[str, Any], AsyncSession | None], Awaitable[None]]


def _settle(found: Payment | None, obj: Mapping[str, Any]) -> None:
    if found is not None:
        return
    metadata = obj.get("metadata") or {}
    if metadata.get(PAYMENT_ID_KEY) or (
        obj.get("object") == "checkout.session" and obj.get("client_reference_id")
    ):
        raise RetryLater(f"payment {metadata.get(PAYMENT_ID_KEY)} for {obj.get('id')} not found")
    raise NotOurs(f"{obj.get('object')} {obj.get('id')} is not one of ours")


class EventHandlers:
    def __init__(
        self,
        payments: PaymentService,
        refunds: RefundService,
        payment_methods: PaymentMethodService,
        autopay: AutopayService,
    ) -> None:
        self.payments = payments
        self.refunds = refunds
        self.payment_methods = payment_methods
        self.autopay = autopay
        self.by_type: dict[str, Handler] = {
            "payment_method.attached": self.payment_method,
            "payment_method.updated": self.payment_method,
            "payment_method.detached": self.payment_method_detached,
            "customer.updated": self.customer,
            "setup_intent.succeeded": self.setup_intent,
            "checkout.session.completed": self.checkout_session,
            "checkout.session.async_payment_succeeded": self.checkout_session,
            "checkout.session.expired": self.checkout_session,
            "checkout.session.async_payment_failed": self.checkout_session_failed,
            "payment_intent.succeeded": self.payment_intent,
            "payment_intent.payment_failed": self.payment_intent,
            "payment_intent.amount_capturable_updated": self.payment_intent,
            "payment_intent.requires_action": self.payment_intent,
            "payment_intent.canceled": self.payment_intent,
            "charge.succeeded": self.charge,
            "transfer.created": self.transfer,
            "transfer.reversed": self.transfer,
            "charge.refunded": self.charge_refunded,
            "refund.created": self.refund,
            "refund.updated": self.refund,
            "refund.failed": self.refund,
            "charge.refund.updated": self.refund,
            "charge.dispute.created": self.dispute,
            "charge.dispute.updated": self.dispute,
            "charge.dispute.closed": self.dispute,
            "charge.dispute.funds_withdrawn": self.dispute,
            "charge.dispute.funds_reinstated": self.dispute,
        }
        self.checkout_handlers: dict[str, CheckoutHandler] = {
            "checkout.session.completed": self.checkout_session,
            "checkout.session.async_payment_succeeded": self.checkout_session,
            "checkout.session.expired": self.checkout_session,
            "checkout.session.async_payment_failed": self.checkout_session_failed,
        }

    async def handle(self, event: Mapping[str, Any]) -> None:
        handler = self.by_type.get(event["type"])
        if handler is None:
            raise NotOurs(f"event type {event['type']} is not handled")
        await handler(event["data"]["object"])

    def in_session(self, event: Mapping[str, Any]) -> SessionHandler | None:
        """For an event whose handling only writes our database (a Checkout Session of a
        payment), its handling inside a transaction the caller gives, so that the inbox can
        apply it and record its outcome in one (and share that transaction with other events);
        None for the others. Like `handle`, it raises NotOurs or RetryLater before it changes
        anything."""
        obj = event["data"]["object"]
        handler = self.checkout_handlers.get(event["type"])
        if handler is None or obj.get("mode") == "setup":  # saving a card asks Stripe
            return None
        return lambda session: handler(obj, session)

    async def checkout_session(
        self, obj: Mapping[str, Any], session: AsyncSession | None = None
    ) -> None:
        checkout = StripeCheckoutSession.from_stripe(obj)
        if obj.get("mode") == "setup":
            setup_intent = obj.get("setup_intent")
            intent_id = setup_intent if isinstance(setup_intent, str) else None
            if isinstance(setup_intent, Mapping):
                intent_id = setup_intent.get("id")
            if obj.get("status") != "complete" or not checkout.customer_id:
                raise NotOurs(f"setup session {obj.get('id')} saved no card")
            if not await self.payment_methods.apply_setup_session(intent_id):
                raise NotOurs(f"setup session {obj.get('id')} is not one of ours")
            return
        _settle(await self.payments.apply_checkout_session(checkout, session=session), obj)

    async def payment_method(self, obj: Mapping[str, Any]) -> None:
        method = StripePaymentMethod.from_stripe(obj)
        if not await self.payment_methods.apply_payment_method(method, detached=False):
            raise NotOurs(f"payment method {method.id} is not one of our customers'")

    async def payment_method_detached(self, obj: Mapping[str, Any]) -> None:
        method = StripePaymentMethod.from_stripe(obj)
        if not await self.payment_methods.apply_payment_method(method, detached=True):
            raise NotOurs(f"payment method {method.id} was not saved here")

    async def customer(self, obj: Mapping[str, Any]) -> None:
        if not await self.payment_methods.customer_updated(StripeCustomer.from_stripe(obj).id):
            raise NotOurs(f"customer {obj.get('id')} is not one of ours")

    async def setup_intent(self, obj: Mapping[str, Any]) -> None:
        if not await self.payment_methods.apply_setup_intent(StripeSetupIntent.from_stripe(obj)):
            raise NotOurs(f"setup intent {obj.get('id')} is not one of ours")

    async def checkout_session_failed(
        self, obj: Mapping[str, Any], session: AsyncSession | None = None
    ) -> None:
        checkout = StripeCheckoutSession.from_stripe(obj)
        found = await self.payments.fail_checkout(
            checkout,
            message="The payment was not completed by the customer's bank.",
            session=session,
        )
        _settle(found, obj)

    async def payment_intent(self, obj: Mapping[str, Any]) -> None:
        found = await self.payments.apply_payment_intent(StripePaymentIntent.from_stripe(obj))
        _settle(found, obj)
        if found is not None and found.kind is PaymentKind.AUTOPAY:
            await self.autopay.payment_settled(found)

    async def charge(self, obj: Mapping[str, Any]) -> None:
        _settle(await self.payments.apply_charge(StripeCharge.from_stripe(obj)), obj)

    async def transfer(self, obj: Mapping[str, Any]) -> None:
        _settle(await self.payments.apply_transfer(StripeTransfer.from_stripe(obj)), obj)

    async def charge_refunded(self, obj: Mapping[str, Any]) -> None:
        charge = StripeCharge.from_stripe(obj)
        found = None
        if charge.payment_intent_id:
            found = await self.refunds.reconcile(charge.payment_intent_id)
        _settle(found, obj)

    async def refund(self, obj: Mapping[str, Any]) -> None:
        _settle(await self.refunds.apply_refund_event(obj), obj)

    async def dispute(self, obj: Mapping[str, Any]) -> None:
        _settle(await self.refunds.apply_dispute(StripeDispute.from_stripe(obj)), obj)
