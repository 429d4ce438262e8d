"""Authorize, release and revert escrow payments.

* `authorize` holds the order's amount on the customer's card (a PaymentIntent with manual
  capture, confirmed at once). One live escrow per order, enforced by a unique index.
* `release` captures the hold (all of it or less) and, when the runner has a Connect account,
  transfers the captured amount minus the platform fee, grouped by order.
* `revert` cancels a hold, or after a release refunds the customer and reverses the transfer.

Each of release and revert first claims the payment (`pending_operation`) in its own short
transaction under a row lock, so when both race exactly one proceeds and the other gets
WrongPaymentStatus. Every Stripe POST carries an idempotency key derived from the payment, so a
retry after a failure part way finishes the same operation with no second capture or transfer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments import idempotency, validation
from graphql_payments.config import Settings
from graphql_payments.customers.service import ensure_customer
from graphql_payments.db import Database
from graphql_payments.errors import (
    CardDeclined,
    InvalidInput,
    OrderNotFound,
    StripeFailed,
    WrongPaymentStatus,
)
from graphql_payments.gateway import PAYMENT_ID_KEY, PaymentGateway, StripeTransfer
from graphql_payments.money import normalize_currency
from graphql_payments.payments import repository as payments
from graphql_payments.payments.models import (
    REUSABLE_ORDER_STATUSES,
    FailureSource,
    Payment,
    PaymentKind,
    PaymentStatus,
    new_payment_id,
)
from graphql_payments.payments.service import PaymentService, fail, move
from graphql_payments.refunds import repository as refunds
from graphql_payments.refunds.models import Refund, RefundStatus
from graphql_payments.refunds.service import RefundService

log = logging.getLogger(__name__)

# Statuses before and after the capture, from which an order may be reverted.
UNCAPTURED = frozenset(
    {PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.AUTHORIZED}
)
CAPTURED = frozenset(
    {PaymentStatus.RELEASED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)
RELEASE = "release"
REVERT = "revert"


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    order_id: str
    amount: int
    currency: str
    payment_method_id: str
    idempotency_key: str
    description: str | None = None
    return_url: str | None = None


@dataclass(frozen=True, slots=True)
class Authorization:
    payment: Payment
    client_secret: str | None
    next_action_url: str | None


def platform_fee(amount: int, basis_points: int) -> int:
    """The platform's share of `amount`, rounded up: a fraction of a minor unit goes to us."""
    return -(-amount * basis_points // 10_000)


class EscrowService:
    def __init__(
        self,
        db: Database,
        gateway: PaymentGateway,
        settings: Settings,
        payments: PaymentService,
        refunds: RefundService,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.settings = settings
        self.payments = payments
        self.refunds = refunds

    async def authorize(self, user_id: str, request: AuthorizeRequest) -> Authorization:
        key = idempotency.check_key(request.idempotency_key)
        order_id = validation.required_text(request.order_id, "orderId")
        payment_method = validation.required_text(request.payment_method_id, "paymentMethodId")
        amount = validation.amount(request.amount)
        currency = normalize_currency(request.currency)
        description = validation.optional_text(request.description, "description")
        return_url = self.settings.default_return_url
        if request.return_url:
            return_url = validation.redirect_url(
                request.return_url, field="returnUrl", allowed_hosts=[]
            )
        keyed = idempotency.Request(
            "authorize",
            user_id,
            key,
            idempotency.request_hash(
                {
                    "order_id": order_id,
                    "amount": amount,
                    "currency": currency,
                    "payment_method": payment_method,
                    "description": description,
                    "return_url": return_url,
                }
            ),
        )
        payment = await self._payment_for_key(
            keyed,
            user_id,
            order_id=order_id,
            amount=amount,
            currency=currency,
            description=description,
        )
        if payment.status is PaymentStatus.FAILED:
            if payment.decline_code is None:
                raise StripeFailed(
                    payment.failure_message or "Stripe refused the payment.",
                    stripe_code=payment.failure_code,
                )
            raise CardDeclined(
                payment.failure_message or "The card was declined.",
                stripe_code=payment.failure_code,
                decline_code=payment.decline_code,
            )
        if payment.stripe_payment_intent_id is not None:
            intent = await self.gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
        else:
            customer_id = await ensure_customer(self.db, self.gateway, user_id)
            try:
                intent = await self.gateway.authorize_payment(
                    amount=amount,
                    currency=currency,
                    customer_id=customer_id,
                    payment_method_id=payment_method,
                    description=description,
                    return_url=return_url,
                    transfer_group=order_id,
                    metadata={PAYMENT_ID_KEY: payment.id, "order_id": order_id},
                    idempotency_key=f"authorize-{payment.id}",
                )
            except StripeFailed as exc:
                if exc.retryable:
                    raise  # the same key tries again
                await self._refused(payment.id, exc, customer_id)
                raise
        applied = await self.payments.apply_payment_intent(intent)
        assert applied is not None
        return Authorization(applied, intent.client_secret, intent.next_action_url)

    async def _payment_for_key(
        self,
        keyed: idempotency.Request,
        user_id: str,
        *,
        order_id: str,
        amount: int,
        currency: str,
        description: str | None,
    ) -> Payment:
        async with self.db.transaction() as session:
            claim = await idempotency.get_or_claim(session, keyed, new_id=new_payment_id())
            if not claim.created:
                return await payments.lock(session, claim.resource_id)
            owner = await payments.order_owner(session, order_id)
            if owner is not None and owner != user_id:
                # The order is someone else's: say no more than for an order that does not exist.
                raise OrderNotFound(f"No order {validation.quote(order_id)} of yours.")
            live = await payments.latest_for_order(session, order_id)
            if live is not None and live.status.value not in REUSABLE_ORDER_STATUSES:
                raise WrongPaymentStatus(
                    f"Order {order_id} already has a {live.status.value} escrow payment."
                )
            payment = Payment(
                id=claim.resource_id,
                user_id=user_id,
                kind=PaymentKind.ESCROW,
                status=PaymentStatus.PENDING,
                amount=amount,
                currency=currency,
                order_id=order_id,
                description=description,
            )
            return await self._insert_live(session, payment)

    @staticmethod
    async def _insert_live(session: AsyncSession, payment: Payment) -> Payment:
        try:
            async with session.begin_nested():
                return await payments.add(session, payment)
        except IntegrityError:
            raise WrongPaymentStatus(
                f"Order {payment.order_id} already has a live escrow payment."
            ) from None

    async def _refused(self, payment_id: str, exc: StripeFailed, customer_id: str) -> None:
        """Stripe refused the authorization for good (a decline, an unknown payment method,
        ...): the payment ends FAILED with Stripe's codes, listed in failedPayments, and the
        order is free for a new attempt."""
        async with self.db.transaction() as session:
            payment = await payments.lock(session, payment_id)
            payment.stripe_customer_id = payment.stripe_customer_id or customer_id
            if exc.payment_intent_id and payment.stripe_payment_intent_id is None:
                payment.stripe_payment_intent_id = exc.payment_intent_id
            await fail(
                session,
                payment,
                source=FailureSource.PAYMENT_ATTEMPT,
                reference=exc.charge_id or exc.payment_intent_id or payment.id,
                code=exc.stripe_code,
                decline_code=exc.decline_code,
                message=exc.message,
            )
            move(
                payment,
                PaymentStatus.FAILED,
                cause=f"refused by Stripe: {exc.decline_code or exc.stripe_code}",
            )

    async def release(
        self,
        *,
        order_id: str,
        runner_id: str | None,
        runner_account_id: str | None,
        amount: int | None,
    ) -> Payment:
        """Capture the hold (or `amount` of it) and pay the runner; idempotent."""
        order = validation.required_text(order_id, "orderId")
        runner = validation.optional_text(
            runner_id, "runnerId", max_length=validation.MAX_USER_ID_LENGTH
        )
        account = validation.optional_text(runner_account_id, "runnerAccountId")
        if account is not None and not account.startswith("acct_"):
            raise InvalidInput(
                "runnerAccountId must be a Stripe account id (acct_...).", field="runnerAccountId"
            )
        if amount is not None:
            validation.amount(amount)
        if account is not None and await self._may_transfer(order):
            await self._check_runner_account(account)
        async with self.db.transaction() as session:
            payment = await self._locked_for_order(session, order)
            if payment.status is PaymentStatus.RELEASED and payment.pending_operation is None:
                if account is None or payment.transfer_id is not None:
                    return payment
                # Captured earlier without paying the runner (no account then, or Stripe
                # refused the transfer): pay them now.
                if amount is not None and amount != payment.captured_amount:
                    raise InvalidInput(
                        f"The hold was captured already ({payment.captured_amount}); "
                        "amount cannot change.",
                        field="amount",
                    )
                payment.pending_operation = RELEASE
                payment.runner_id = runner or payment.runner_id
                payment.runner_account_id = account
            else:
                self._claim(payment, RELEASE, allowed=frozenset({PaymentStatus.AUTHORIZED}))
            if payment.pending_operation is None:
                capture = amount if amount is not None else payment.amount
                if capture > payment.amount:
                    raise InvalidInput(
                        f"amount is above the {payment.amount} held for this order.",
                        field="amount",
                    )
                payment.pending_operation = RELEASE
                payment.requested_capture = capture
                payment.runner_id = runner
                payment.runner_account_id = account
            payment_id = payment.id
        return await self._finish_release(payment_id)

    async def _may_transfer(self, order_id: str) -> bool:
        """Whether a release of the order may still pay the runner (so their account matters)."""
        async with self.db.reading() as session:
            payment = await payments.latest_for_order(session, order_id)
        return (
            payment is not None
            and payment.pending_operation is None
            and payment.transfer_id is None
            and payment.status in (PaymentStatus.AUTHORIZED, PaymentStatus.RELEASED)
        )

    async def _check_runner_account(self, account_id: str) -> None:
        """Refuse, before anything is captured, an account that cannot receive the transfer."""
        try:
            account = await self.gateway.retrieve_account(account_id)
        except StripeFailed as exc:
            if exc.stripe_code == "resource_missing":
                raise InvalidInput(
                    f"No Stripe account {account_id}.", field="runnerAccountId"
                ) from None
            raise
        if not account.can_receive_transfers:
            raise InvalidInput(
                f"The Stripe account {account_id} cannot receive transfers yet (its transfers "
                "capability is not active).",
                field="runnerAccountId",
            )

    async def _finish_release(self, payment_id: str) -> Payment:
        payment = await self._read(payment_id)
        if payment.captured_amount is None:
            assert payment.stripe_payment_intent_id is not None
            assert payment.requested_capture is not None
            try:
                intent = await self.gateway.capture_payment(
                    payment.stripe_payment_intent_id,
                    amount=payment.requested_capture,
                    idempotency_key=f"capture-{payment.id}",
                )
            except StripeFailed as exc:
                if not exc.retryable:
                    await self._abandon(payment_id, RELEASE)
                raise
            await self.payments.apply_payment_intent(intent)
            payment = await self._read(payment_id)
        captured = payment.captured_amount
        assert captured is not None
        fee = platform_fee(captured, self.settings.platform_fee_bps)
        account = payment.runner_account_id
        transfer: StripeTransfer | None = None
        refused: StripeFailed | None = None
        if account and captured - fee > 0 and payment.transfer_id is None:
            try:
                transfer = await self.gateway.create_transfer(
                    amount=captured - fee,
                    currency=payment.currency,
                    destination=account,
                    transfer_group=payment.order_id or payment.id,
                    source_transaction=payment.stripe_charge_id,
                    metadata={PAYMENT_ID_KEY: payment.id, "order_id": payment.order_id or ""},
                    idempotency_key=f"transfer-{payment.id}-{account}",
                )
            except StripeFailed as exc:
                if exc.retryable:
                    raise
                refused = exc
        async with self.db.transaction() as session:
            stored = await payments.lock(session, payment_id)
            stored.platform_fee = fee
            if transfer is not None:
                stored.transfer_id = stored.transfer_id or transfer.id
                stored.transferred_amount = stored.transferred_amount or transfer.amount
            if refused is not None:
                await fail(
                    session,
                    stored,
                    source=FailureSource.TRANSFER,
                    reference=f"transfer-{account}",
                    code=refused.stripe_code,
                    message=refused.message,
                )
            stored.pending_operation = None
            move(stored, PaymentStatus.RELEASED, cause="released")
            await session.flush()
        if refused is not None:
            # The capture stands; the order is released and the runner can be paid later.
            raise StripeFailed(
                f"The payment was captured, but Stripe refused the transfer to {account}: "
                f"{refused.message} Release the order again with a runnerAccountId that can "
                "receive transfers to pay the runner.",
                stripe_code=refused.stripe_code,
            )
        return stored

    async def _read(self, payment_id: str) -> Payment:
        async with self.db.reading() as session:
            payment = await payments.get(session, payment_id)
        assert payment is not None
        return payment

    async def revert(self, *, order_id: str, reason: str | None) -> Payment:
        """Cancel the hold, or refund the customer and take the runner's transfer back."""
        order = validation.required_text(order_id, "orderId")
        why = validation.optional_text(reason, "reason")
        async with self.db.transaction() as session:
            payment = await self._locked_for_order(session, order)
            if payment.status is PaymentStatus.REVERTED and payment.pending_operation is None:
                return payment
            self._claim(payment, REVERT, allowed=UNCAPTURED | CAPTURED)
            if payment.pending_operation is None:
                payment.pending_operation = REVERT
                left = await self._left_to_refund(session, payment)
                if payment.status in CAPTURED and left > 0:
                    session.add(
                        Refund(
                            payment_id=payment.id,
                            amount=left,
                            currency=payment.currency,
                            status=RefundStatus.PENDING,
                            reason=why or "reverted",
                        )
                    )
            payment_id, captured = payment.id, payment.status in CAPTURED
        return await self._continue_revert(payment_id, captured=captured)

    async def resume(self, payment_id: str) -> Payment:
        """Finish a release or revert left half-done (a crash, a Stripe outage): the same
        steps with the same idempotency keys as the first call, so resuming twice is harmless."""
        payment = await self._read(payment_id)
        if payment.pending_operation == RELEASE:
            return await self._finish_release(payment_id)
        if payment.pending_operation == REVERT:
            return await self._continue_revert(payment_id, captured=payment.status in CAPTURED)
        return payment

    async def _continue_revert(self, payment_id: str, *, captured: bool) -> Payment:
        if not captured:
            return await self._cancel_hold(payment_id)
        async with self.db.reading() as session:
            refund = await refunds.pending_for_payment(session, payment_id)
        if refund is not None:
            await self.refunds.execute(refund.id)
        async with self.db.reading() as session:
            payment = await payments.get(session, payment_id)
            assert payment is not None
            left = await self._left_to_refund(session, payment)
        if left > 0:
            # The refund failed for good: the money stays captured and the order released.
            await self._abandon(payment_id, REVERT)
            raise StripeFailed(
                "The refund of the order failed, so it was not reverted; see the payment's "
                "failures and revert it again."
            )
        return await self._finish(payment_id, cause="refunded and transfer reversed")

    @staticmethod
    async def _left_to_refund(session: AsyncSession, payment: Payment) -> int:
        reserved = await refunds.total(session, payment.id, refunds.RESERVED)
        return (payment.captured_amount or 0) - reserved - payment.dispute_lost_amount

    async def _cancel_hold(self, payment_id: str) -> Payment:
        payment = await self._read(payment_id)
        if payment.stripe_payment_intent_id is not None:
            try:
                intent = await self.gateway.cancel_payment(
                    payment.stripe_payment_intent_id, idempotency_key=f"cancel-{payment.id}"
                )
            except StripeFailed as exc:
                if not exc.retryable:
                    await self._abandon(payment_id, REVERT)
                raise
            await self.payments.apply_payment_intent(intent)
        return await self._finish(payment_id, cause="hold canceled")

    async def _finish(self, payment_id: str, *, cause: str) -> Payment:
        async with self.db.transaction() as session:
            payment = await payments.lock(session, payment_id)
            payment.pending_operation = None
            move(payment, PaymentStatus.REVERTED, cause=cause)
            await session.flush()
            return payment

    async def _abandon(self, payment_id: str, operation: str) -> None:
        """Stripe refused the operation for good: release the claim so others may proceed."""
        async with self.db.transaction() as session:
            payment = await payments.get(session, payment_id, lock=True)
            if payment is not None and payment.pending_operation == operation:
                payment.pending_operation = None

    @staticmethod
    async def _locked_for_order(session: AsyncSession, order_id: str) -> Payment:
        payment = await payments.latest_for_order(session, order_id, lock=True)
        if payment is None:
            raise OrderNotFound(f"No escrow payment for order {validation.quote(order_id)}.")
        return payment

    @staticmethod
    def _claim(payment: Payment, operation: str, *, allowed: frozenset[PaymentStatus]) -> None:
        """Check that `operation` may run (or resume); raises WrongPaymentStatus otherwise."""
        if payment.pending_operation == operation:
            return
        if payment.pending_operation is not None:
            doing = "released" if payment.pending_operation == RELEASE else "reverted"
            raise WrongPaymentStatus(f"The order's payment is being {doing}; try again later.")
        if payment.status not in allowed:
            raise WrongPaymentStatus(
                f"Cannot {operation} a payment that is {payment.status.value}."
            )
