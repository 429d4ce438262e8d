"""Refunds and disputes: money going back, wherever it starts.

A refund made through `refund`, one made in the Stripe dashboard, and one that fails after it
succeeded all end in `apply`: one function that records Stripe's refund under a lock on its
payment and then settles the payment from its refund rows (`_settle`): the refunded total, the
status, the credits taken back and the share of the runner's transfer to reverse. Because every
effect is derived from totals and written once per refund (ledger entries are unique per
refund), applying the same refund twice, or in any order, changes nothing more.

Credits taken back by refunds are cumulative and rounded down in the customer's favour: after
refunds totalling R of a payment of amount A that bought C credits, floor(C * R / A) credits
have been taken back, so a full refund takes back all C and partial refunds never take more.
The runner's transfer is reversed the same way: floor(T * R / captured) of a transfer T.

A dispute holds back the disputed share of the credits while it is open (a DISPUTE_HOLD entry),
gives them back when it is won (DISPUTE_RELEASED), and keeps them when it is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments import idempotency, validation
from graphql_payments.db import Database
from graphql_payments.errors import (
    InsufficientCredits,
    InvalidInput,
    NothingLeftToRefund,
    PaymentNotFound,
    RefundExceedsCaptured,
    StripeFailed,
    WrongPaymentStatus,
)
from graphql_payments.gateway import (
    PAYMENT_ID_KEY,
    REFUND_ID_KEY,
    PaymentGateway,
    StripeDispute,
    StripeRefund,
)
from graphql_payments.ledger import repository as ledger
from graphql_payments.ledger.models import EntryReason
from graphql_payments.payments import repository as payments
from graphql_payments.payments.models import FailureSource, Payment, PaymentKind, PaymentStatus
from graphql_payments.payments.service import PaymentService, find_locked, move
from graphql_payments.payments.states import settled_status
from graphql_payments.refunds import models, repository

log = logging.getLogger(__name__)

# Statuses from which money can be refunded.
REFUNDABLE = frozenset(
    {PaymentStatus.SUCCEEDED, PaymentStatus.RELEASED, PaymentStatus.PARTIALLY_REFUNDED}
)
# Statuses in which a payment holds captured money that refunds and disputes move about.
SETTLED = REFUNDABLE | {PaymentStatus.REFUNDED, PaymentStatus.DISPUTED}
STRIPE_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
STATUS_FROM_STRIPE = {
    "pending": models.RefundStatus.PENDING,
    "requires_action": models.RefundStatus.PENDING,
    "succeeded": models.RefundStatus.SUCCEEDED,
    "failed": models.RefundStatus.FAILED,
    "canceled": models.RefundStatus.CANCELED,
}
# A refund's status only moves forward; a succeeded refund may still fail or be canceled.
REFUND_MOVES = {
    models.RefundStatus.PENDING: {
        models.RefundStatus.SUCCEEDED,
        models.RefundStatus.FAILED,
        models.RefundStatus.CANCELED,
    },
    models.RefundStatus.SUCCEEDED: {models.RefundStatus.FAILED, models.RefundStatus.CANCELED},
}
MAX_REASON_LENGTH = 255
MAX_PAYMENT_ID_LENGTH = 40  # our ids: pay_ and 32 hex digits


@dataclass(frozen=True, slots=True)
class RefundRequest:
    payment_id: str
    idempotency_key: str
    amount: int | None = None
    reason: str | None = None
    force: bool = False


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    payment: Payment
    refund: models.Refund


def basis(payment: Payment) -> int:
    """What was captured from the customer."""
    if payment.kind is PaymentKind.ESCROW:
        return payment.captured_amount or 0
    return payment.amount


def credits_share(payment: Payment, returned: int) -> int:
    """The credits that `returned` minor units of the payment paid for, rounded down."""
    if not payment.credits or payment.amount <= 0:
        return 0
    return payment.credits * returned // payment.amount


class RefundService:
    def __init__(self, db: Database, gateway: PaymentGateway, payments: PaymentService) -> None:
        self.db = db
        self.gateway = gateway
        self.payments = payments

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        """Refund all that is left of a payment, or `amount` of it; idempotent by key."""
        key = idempotency.check_key(request.idempotency_key)
        if len(request.payment_id) > MAX_PAYMENT_ID_LENGTH:
            raise PaymentNotFound(f"No payment {validation.quote(request.payment_id)}.")
        reason = validation.optional_text(request.reason, "reason", max_length=MAX_REASON_LENGTH)
        if request.amount is not None and request.amount <= 0:
            raise InvalidInput("amount must be a positive number of minor units.", field="amount")
        digest = idempotency.request_hash(
            {"amount": request.amount, "reason": reason, "force": request.force}
        )
        keyed = idempotency.Request("refund", request.payment_id, key, digest)
        async with self.db.transaction() as session:
            claim = await idempotency.get_or_claim(session, keyed, new_id=models.new_refund_id())
            if claim.created:
                await self._record(session, request, reason, claim.resource_id)
        return await self.execute(claim.resource_id)

    async def _record(
        self, session: AsyncSession, request: RefundRequest, reason: str | None, refund_id: str
    ) -> models.Refund:
        """Check the refund against the payment and write it down, before Stripe hears of it."""
        payment = await payments.lock(session, request.payment_id)
        if payment.status is PaymentStatus.REFUNDED:
            raise NothingLeftToRefund("This payment is refunded in full already.")
        if payment.status not in REFUNDABLE or payment.pending_operation is not None:
            hint = ""
            if payment.status in (PaymentStatus.AUTHORIZED, PaymentStatus.REQUIRES_ACTION):
                hint = " An uncaptured hold is reverted, not refunded."
            raise WrongPaymentStatus(
                f"Only captured money can be refunded; this payment is "
                f"{payment.status.value}.{hint}"
            )
        reserved = await repository.total(session, payment.id, repository.RESERVED)
        left = basis(payment) - reserved - payment.dispute_lost_amount
        if left <= 0:
            raise NothingLeftToRefund("Nothing is left to refund on this payment.")
        amount = request.amount if request.amount is not None else left
        if amount > left:
            raise RefundExceedsCaptured(left)
        if payment.credits and not request.force:
            take = credits_share(payment, reserved + amount) - await ledger.taken_back(
                session, payment.id
            )
            held = await ledger.balance(session, payment.user_id)
            if take > held:
                raise InsufficientCredits(
                    f"The refund takes back {take} credits but the customer holds {held}; "
                    "pass force: true to refund anyway and leave a negative balance."
                )
        refund = models.Refund(
            id=refund_id,
            payment_id=payment.id,
            amount=amount,
            currency=payment.currency,
            status=models.RefundStatus.PENDING,
            reason=reason,
        )
        session.add(refund)
        await session.flush()
        return refund

    async def execute(self, refund_id: str) -> RefundOutcome:
        """Ask Stripe for a recorded refund (again, with the same key) and apply the answer."""
        async with self.db.reading() as session:
            refund = await repository.get(session, refund_id)
            assert refund is not None
            payment = await payments.get(session, refund.payment_id)
            assert payment is not None
        if refund.status is models.RefundStatus.PENDING and refund.stripe_refund_id is None:
            if payment.stripe_payment_intent_id is None:
                raise WrongPaymentStatus("The payment has no Stripe payment to refund.")
            reason = refund.reason if refund.reason in STRIPE_REASONS else "requested_by_customer"
            try:
                stripe_refund = await self.gateway.create_refund(
                    payment_intent_id=payment.stripe_payment_intent_id,
                    amount=refund.amount,
                    reason=reason,
                    metadata={PAYMENT_ID_KEY: payment.id, REFUND_ID_KEY: refund.id},
                    idempotency_key=f"refund-{refund.id}",
                )
            except StripeFailed as exc:
                if not exc.retryable:
                    await self._refused(refund.id, exc)
                raise
            await self.apply(stripe_refund)
        await self.reverse_transfer(refund_id)
        async with self.db.reading() as session:
            refund = await repository.get(session, refund_id)
            payment = await payments.get(session, payment.id)
        assert refund is not None
        assert payment is not None
        return RefundOutcome(payment, refund)

    async def _refused(self, refund_id: str, exc: StripeFailed) -> None:
        async with self.db.transaction() as session:
            refund = await repository.get(session, refund_id)
            assert refund is not None
            # The payment's lock first, as everywhere: it serializes all work on its refunds.
            payment = await payments.lock(session, refund.payment_id)
            refund = await repository.get(session, refund_id, lock=True)
            assert refund is not None
            await self._move_refund(
                session, payment, refund, models.RefundStatus.FAILED, failure=exc.message
            )

    async def give_up(self, refund_id: str, *, attempts: int) -> RefundOutcome | None:
        """After `attempts` tries Stripe never answered: apply the refund if Stripe has it after
        all, else mark it FAILED and free its amount. None when Stripe cannot be asked now."""
        async with self.db.reading() as session:
            refund = await repository.get(session, refund_id)
            assert refund is not None
            payment = await payments.get(session, refund.payment_id)
            assert payment is not None
        if refund.status is not models.RefundStatus.PENDING or refund.stripe_refund_id:
            return None
        if payment.stripe_payment_intent_id is not None:
            try:
                held = await self.gateway.list_refunds(payment.stripe_payment_intent_id)
            except StripeFailed:
                return None
            for stripe_refund in held:
                if stripe_refund.refund_id == refund_id:
                    await self.apply(stripe_refund)
                    return await self.execute(refund_id)
        log.error("refund %s: no answer from Stripe after %d attempts; FAILED", refund_id, attempts)
        await self._refused(
            refund_id,
            StripeFailed(
                f"Stripe did not confirm the refund after {attempts} attempts.",
                stripe_code="gave_up",
            ),
        )
        async with self.db.reading() as session:
            refund = await repository.get(session, refund_id)
            payment = await payments.get(session, refund.payment_id if refund else "")
        assert refund is not None
        assert payment is not None
        return RefundOutcome(payment, refund)

    async def apply(self, stripe_refund: StripeRefund) -> Payment | None:
        """Bring our records in line with a Stripe refund; None if its payment is not ours."""
        async with self.db.transaction() as session:
            known = await self._find(session, stripe_refund)
            payment = await find_locked(
                session,
                payment_id=known.payment_id if known else None,
                payment_intent_id=stripe_refund.payment_intent_id,
                charge_id=stripe_refund.charge_id,
            )
            if payment is None:
                return None
            # Under the payment's lock, read the refund again: another transaction may have
            # recorded or moved it while we waited.
            refund = await self._find(session, stripe_refund)
            if refund is None:
                # Made outside this server (the Stripe dashboard): record it as ours now.
                refund = models.Refund(
                    id=models.new_refund_id(),
                    payment_id=payment.id,
                    amount=stripe_refund.amount,
                    currency=payment.currency,
                    status=models.RefundStatus.PENDING,
                    reason=stripe_refund.reason or "refunded at Stripe",
                    stripe_refund_id=stripe_refund.id,
                )
                session.add(refund)
                await session.flush()
            refund.stripe_refund_id = refund.stripe_refund_id or stripe_refund.id
            target = STATUS_FROM_STRIPE.get(stripe_refund.status, models.RefundStatus.PENDING)
            await self._move_refund(
                session, payment, refund, target, failure=stripe_refund.failure_reason
            )
            return payment

    @staticmethod
    async def _find(session: AsyncSession, stripe_refund: StripeRefund) -> models.Refund | None:
        found = await repository.by_stripe_id(session, stripe_refund.id)
        if found is None and stripe_refund.refund_id:
            found = await repository.get(session, stripe_refund.refund_id)
        return found

    async def _move_refund(
        self,
        session: AsyncSession,
        payment: Payment,
        refund: models.Refund,
        target: models.RefundStatus,
        *,
        failure: str | None,
    ) -> None:
        if target not in REFUND_MOVES.get(refund.status, set()):
            return
        log.info("refund %s: %s -> %s", refund.id, refund.status.value, target.value)
        refund.status = target
        if target in (models.RefundStatus.FAILED, models.RefundStatus.CANCELED):
            refund.failure_reason = failure or refund.failure_reason
            await payments.record_failure(
                session,
                payment_id=payment.id,
                source=FailureSource.REFUND,
                reference=refund.id,
                code=failure,
                decline_code=None,
                message=f"Refund of {refund.amount} {refund.currency} {target.value.lower()}.",
            )
        await session.flush()
        await self._settle(session, payment, refund)

    async def _settle(
        self, session: AsyncSession, payment: Payment, changed: models.Refund | None
    ) -> None:
        """Derive the payment's refunded total, status, credits and transfer reversal."""
        refunded = await repository.total(session, payment.id, [models.RefundStatus.SUCCEEDED])
        payment.refunded_amount = refunded
        # The new total and the status it calls for are written together, so the event that
        # announces the refund shows both.
        with session.no_autoflush:
            if payment.status in SETTLED:
                dispute_open = await repository.has_open_dispute(session, payment.id)
                status = settled_status(
                    payment.kind,
                    basis=basis(payment),
                    returned=refunded + payment.dispute_lost_amount,
                    dispute_open=dispute_open,
                )
                move(payment, status, cause="refunds and disputes settled")
        await session.flush()
        if payment.credits and changed is not None:
            target = credits_share(payment, refunded)
            taken = await ledger.taken_back(session, payment.id)
            if target != taken:
                await ledger.add_entry(
                    session,
                    user_id=payment.user_id,
                    delta=taken - target,
                    reason=EntryReason.REFUND if target > taken else EntryReason.REFUND_RESTORED,
                    payment_id=payment.id,
                    reference=changed.id,
                )
        if (
            changed is not None
            and payment.transfer_id
            and payment.transferred_amount
            and payment.captured_amount
        ):
            target = payment.transferred_amount * refunded // payment.captured_amount
            planned = await repository.planned_reversals(session, payment.id)
            if target > planned and changed.status is models.RefundStatus.SUCCEEDED:
                changed.transfer_reversal += target - planned
        await session.flush()

    async def reverse_transfer(self, refund_id: str) -> None:
        """Take the refund's share back from the runner, once; a refusal is kept, not retried."""
        async with self.db.reading() as session:
            refund = await repository.get(session, refund_id)
            assert refund is not None
            payment = await payments.get(session, refund.payment_id)
            assert payment is not None
            if refund.transfer_reversal <= 0 or refund.transfer_reversed or not payment.transfer_id:
                return
            if await payments.has_failure(
                session, payment.id, FailureSource.TRANSFER_REVERSAL, refund.id
            ):
                return  # Stripe refused it before; an operator settles it
        try:
            transfer = await self.gateway.reverse_transfer(
                payment.transfer_id,
                amount=refund.transfer_reversal,
                metadata={PAYMENT_ID_KEY: payment.id, REFUND_ID_KEY: refund.id},
                idempotency_key=f"reversal-{refund.id}",
            )
        except StripeFailed as exc:
            if exc.retryable:
                raise
            # The customer's refund stands; the runner keeps this share. Kept for an operator
            # to settle with the runner, and never asked again.
            log.error("refund %s: Stripe refused the transfer reversal: %s", refund.id, exc)
            async with self.db.transaction() as session:
                await payments.record_failure(
                    session,
                    payment_id=payment.id,
                    source=FailureSource.TRANSFER_REVERSAL,
                    reference=refund.id,
                    code=exc.stripe_code,
                    decline_code=None,
                    message=f"Reversal of {refund.transfer_reversal} {refund.currency} from "
                    f"transfer {payment.transfer_id} refused: {exc.message}",
                )
            return
        await self.payments.apply_transfer(transfer)
        async with self.db.transaction() as session:
            stored = await repository.get(session, refund_id, lock=True)
            assert stored is not None
            stored.transfer_reversed = True

    async def reconcile(self, payment_intent_id: str) -> Payment | None:
        """Apply every refund Stripe holds for a payment (after `charge.refunded`)."""
        found: Payment | None = None
        for stripe_refund in await self.gateway.list_refunds(payment_intent_id):
            found = await self.apply(stripe_refund) or found
            if found is not None:
                await self._reverse_by_stripe_id(stripe_refund.id)
        return found

    async def _reverse_by_stripe_id(self, stripe_refund_id: str) -> None:
        async with self.db.reading() as session:
            refund = await repository.by_stripe_id(session, stripe_refund_id)
        if refund is not None:
            await self.reverse_transfer(refund.id)

    async def apply_refund_event(self, obj: Mapping[str, Any]) -> Payment | None:
        stripe_refund = StripeRefund.from_stripe(obj)
        payment = await self.apply(stripe_refund)
        if payment is not None:
            await self._reverse_by_stripe_id(stripe_refund.id)
        return payment

    async def apply_dispute(self, dispute: StripeDispute) -> Payment | None:
        """Open, update or close a dispute: hold, release or keep the disputed credits."""
        async with self.db.transaction() as session:
            payment = await find_locked(
                session, payment_intent_id=dispute.payment_intent_id, charge_id=dispute.charge_id
            )
            if payment is None:
                return None
            row = await repository.dispute_by_stripe_id(session, dispute.id)
            was_open = row is None or row.is_open
            if row is None:
                # Hold the credits of the disputed money that refunds did not take back yet.
                returned = payment.refunded_amount + payment.dispute_lost_amount
                amount = max(0, min(dispute.amount, basis(payment) - returned))
                row = models.Dispute(
                    id=models.new_dispute_id(),
                    payment_id=payment.id,
                    stripe_dispute_id=dispute.id,
                    amount=dispute.amount,
                    currency=dispute.currency or payment.currency,
                    reason=dispute.reason,
                    status=dispute.status,
                    credits_held=credits_share(payment, returned + amount)
                    - credits_share(payment, returned),
                )
                session.add(row)
                await session.flush()
                # The payment is DISPUTED before its credits are held (and announced so).
                await self._settle(session, payment, None)
                if row.credits_held:
                    await ledger.add_entry(
                        session,
                        user_id=payment.user_id,
                        delta=-row.credits_held,
                        reason=EntryReason.DISPUTE_HOLD,
                        payment_id=payment.id,
                        reference=row.id,
                    )
            elif row.is_open:
                row.status = dispute.status
            if was_open and not row.is_open:
                await self._close_dispute(session, payment, row)
            await self._settle(session, payment, None)
            return payment

    @staticmethod
    async def _close_dispute(session: AsyncSession, payment: Payment, row: models.Dispute) -> None:
        log.info("dispute %s on payment %s closed: %s", row.id, payment.id, row.status)
        if row.status == "lost":
            # The bank took the money back; the held credits stay taken.
            left = basis(payment) - payment.refunded_amount - payment.dispute_lost_amount
            payment.dispute_lost_amount += max(0, min(row.amount, left))
        elif row.credits_held:
            await ledger.add_entry(
                session,
                user_id=payment.user_id,
                delta=row.credits_held,
                reason=EntryReason.DISPUTE_RELEASED,
                payment_id=payment.id,
                reference=row.id,
            )
