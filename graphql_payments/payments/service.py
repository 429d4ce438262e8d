"""Payment status, history and fulfilment.

Fulfilment is one idempotent function per Stripe object (`apply_checkout_session`,
`apply_payment_intent`, `apply_charge`), called from webhooks and from `paymentStatus` alike:
whichever arrives first moves the payment, the others find nothing left to do. Every status
change goes through the transition table in `states.py`, under a row lock, in the same
transaction as the ledger entry it implies.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments.auth import Principal
from graphql_payments.db import Database, utcnow
from graphql_payments.errors import StripeFailed
from graphql_payments.gateway import (
    PaymentGateway,
    StripeCharge,
    StripeCheckoutSession,
    StripePaymentIntent,
    StripeTransfer,
)
from graphql_payments.ledger import repository as ledger
from graphql_payments.ledger.models import EntryReason
from graphql_payments.payments import repository
from graphql_payments.payments.models import (
    FailureSource,
    Payment,
    PaymentFailure,
    PaymentKind,
    PaymentRecord,
    PaymentStatus,
)
from graphql_payments.payments.states import PAID_STATUSES, can_transition

log = logging.getLogger(__name__)

MAX_PAGE = 100
# Waiting payments one `statuses` call checks with Stripe (each is a Stripe request).
MAX_REFRESH = 10


@dataclass(frozen=True, slots=True)
class Page:
    payments: list[PaymentRecord]
    has_next: bool
    total: int


@dataclass(frozen=True, slots=True)
class FailurePage:
    rows: list[tuple[PaymentFailure, Payment]]
    has_next: bool
    total: int


def visible_to(viewer: Principal, payment: PaymentRecord | None) -> PaymentRecord | None:
    """The payment if the viewer may see it; None otherwise, as if it did not exist."""
    if payment is None:
        return None
    if viewer.is_admin or payment.user_id == viewer.user_id:
        return payment
    return None


def move(payment: Payment, target: PaymentStatus, *, cause: str) -> bool:
    """Apply a status change if the transition table allows it; log and skip otherwise."""
    if payment.status is target:
        return False
    if not can_transition(payment.kind, payment.status, target):
        log.info(
            "payment %s: %s -> %s not allowed (%s); ignored",
            payment.id,
            payment.status.value,
            target.value,
            cause,
        )
        return False
    log.info("payment %s: %s -> %s (%s)", payment.id, payment.status.value, target.value, cause)
    payment.status = target
    return True


def _link(payment: Payment, **ids: str | None) -> None:
    """Record Stripe ids we learn about; an id once set is never replaced."""
    for name, value in ids.items():
        if value and getattr(payment, name) is None:
            setattr(payment, name, value)


def _keys(
    payment_id: str | None,
    checkout_session_id: str | None,
    payment_intent_id: str | None,
    charge_id: str | None,
) -> dict[str, str]:
    """The columns naming a Stripe object's payment, in order of preference: Stripe's ids,
    then ours."""
    lookups = {
        "stripe_checkout_session_id": checkout_session_id,
        "stripe_payment_intent_id": payment_intent_id,
        "stripe_charge_id": charge_id,
        "id": payment_id,
    }
    return {k: v for k, v in lookups.items() if v}


async def find_locked(
    session: AsyncSession,
    *,
    payment_id: str | None = None,
    checkout_session_id: str | None = None,
    payment_intent_id: str | None = None,
    charge_id: str | None = None,
) -> Payment | None:
    """The payment a Stripe object belongs to, row-locked."""
    keys = _keys(payment_id, checkout_session_id, payment_intent_id, charge_id)
    return await repository.find_locked(session, keys)


# Kinds of payment that buy credits, granted through the ledger once paid.
CREDIT_KINDS = frozenset({PaymentKind.CREDIT_PURCHASE, PaymentKind.AUTOPAY})

# Statuses in which Stripe may know more than we do yet.
WAITING_FOR_STRIPE = frozenset({PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION})

# How long a card authorization holds when Stripe does not say (`capture_before`).
DEFAULT_HOLD = dt.timedelta(days=7)


async def fail(
    session: AsyncSession,
    payment: Payment,
    *,
    source: FailureSource,
    reference: str,
    code: str | None,
    decline_code: str | None = None,
    message: str | None = None,
    show: bool = True,
) -> None:
    """Keep a failed attempt in the failures list (once) and, with `show`, on the payment."""
    if show:
        payment.failure_code = code
        payment.decline_code = decline_code
        payment.failure_message = message
    await repository.record_failure(
        session,
        payment_id=payment.id,
        source=source,
        reference=reference,
        code=code,
        decline_code=decline_code,
        message=message,
    )


async def _failed_attempt(
    session: AsyncSession, payment: Payment, intent: StripePaymentIntent, *, show: bool = True
) -> None:
    error = intent.last_error
    assert error is not None
    await fail(
        session,
        payment,
        source=FailureSource.PAYMENT_ATTEMPT,
        reference=intent.latest_charge_id or intent.id,
        code=error.code,
        decline_code=error.decline_code,
        message=error.message,
        show=show,
    )


async def apply_escrow_intent(
    session: AsyncSession, payment: Payment, intent: StripePaymentIntent
) -> None:
    """Move an escrow payment as its manual-capture PaymentIntent moved."""
    cause = f"payment intent {intent.id} {intent.status}"
    if intent.status == "requires_action":
        move(payment, PaymentStatus.REQUIRES_ACTION, cause=cause)
    elif intent.status == "requires_capture":
        if move(payment, PaymentStatus.AUTHORIZED, cause=cause):
            payment.failure_code = payment.decline_code = payment.failure_message = None
        if payment.hold_expires_at is None:
            payment.hold_expires_at = utcnow() + DEFAULT_HOLD
    elif intent.status == "succeeded":
        if payment.captured_amount is None:
            payment.captured_amount = intent.amount_received
        # A release in progress finishes the move itself, once the runner is paid. Only a hold
        # is released: a late event must not undo what refunds and disputes did since.
        if payment.pending_operation is None and payment.status is PaymentStatus.AUTHORIZED:
            move(payment, PaymentStatus.RELEASED, cause=cause)
    elif intent.status == "canceled":
        expired = intent.cancellation_reason == "automatic"
        target = PaymentStatus.EXPIRED if expired else PaymentStatus.REVERTED
        move(payment, target, cause=f"{cause} ({intent.cancellation_reason})")
    elif intent.status == "requires_payment_method" and intent.last_error is not None:
        await _failed_attempt(session, payment, intent)
        move(payment, PaymentStatus.FAILED, cause=cause)


class PaymentService:
    def __init__(self, db: Database, gateway: PaymentGateway) -> None:
        self.db = db
        self.gateway = gateway

    async def get(self, payment_id: str) -> Payment | None:
        async with self.db.reading() as session:
            return await repository.get(session, payment_id)

    async def status(
        self,
        viewer: Principal,
        *,
        payment_id: str | None = None,
        checkout_session_id: str | None = None,
        order_id: str | None = None,
        refresh: bool = True,
    ) -> PaymentRecord | None:
        """A payment the viewer may see; a PENDING checkout is first checked with Stripe
        (unless not `refresh`)."""
        async with self.db.read() as connection:
            payment = await repository.read(
                connection,
                payment_id=payment_id,
                checkout_session_id=checkout_session_id,
                order_id=order_id,
            )
        payment = visible_to(viewer, payment)
        if refresh and payment is not None and payment.status in WAITING_FOR_STRIPE:
            payment = await self.refresh(payment)
        return payment

    async def statuses(
        self, viewer: Principal | None, keys: Sequence[tuple[str, str]], *, refresh: bool = True
    ) -> list[PaymentRecord | None]:
        """`status` for many `(lookup, value)` keys at once (a remote join asks for hundreds of
        orders in one request): one read per kind of lookup, not one per key. None where the
        payment does not exist or the viewer (None: anonymous) may not see it. At most
        `MAX_REFRESH` waiting payments are checked with Stripe per call; the others show what
        we hold, and their webhooks move them on."""
        if viewer is None:
            return [None] * len(keys)
        async with self.db.read() as connection:
            found = await repository.find_many(connection, keys)
        shown = [visible_to(viewer, found.get(key)) for key in keys]
        refreshed: dict[str, PaymentRecord] = {}
        for payment in shown:
            if not refresh or payment is None or payment.status not in WAITING_FOR_STRIPE:
                continue
            if payment.id not in refreshed and len(refreshed) < MAX_REFRESH:
                refreshed[payment.id] = await self.refresh(payment)
        return [refreshed.get(p.id, p) if p is not None else None for p in shown]

    async def for_return_page(
        self, *, checkout_session_id: str | None = None, payment_intent_id: str | None = None
    ) -> PaymentRecord | None:
        """The payment a hosted page's return URL names (`/pay/success?session_id=...`).

        Whoever holds the URL may see it, as on Stripe's own pages: callers show only its
        amount, credits and status. A waiting payment is first checked with Stripe.
        """
        payment: PaymentRecord | None
        async with self.db.reading() as session:
            if checkout_session_id:
                payment = await repository.get_by_checkout_session(session, checkout_session_id)
            elif payment_intent_id:
                payment = await repository.get_by_payment_intent(session, payment_intent_id)
            else:
                payment = None
        if payment is not None and payment.status in WAITING_FOR_STRIPE:
            payment = await self.refresh(payment)
        return payment

    async def refresh(self, payment: PaymentRecord, *, raise_errors: bool = False) -> PaymentRecord:
        """Ask Stripe about a waiting payment and apply what it says (the success page path,
        and the reconciliation's, which wants to hear of a failure: `raise_errors`)."""
        try:
            if payment.stripe_checkout_session_id is not None:
                checkout = await self.gateway.retrieve_checkout_session(
                    payment.stripe_checkout_session_id
                )
                return await self.apply_checkout_session(checkout) or payment
            if payment.stripe_payment_intent_id is not None:
                intent = await self.gateway.retrieve_payment_intent(
                    payment.stripe_payment_intent_id
                )
                return await self.apply_payment_intent(intent) or payment
        except StripeFailed as exc:
            if raise_errors:
                raise
            log.warning("payment %s: could not refresh from Stripe: %s", payment.id, exc)
        return payment

    async def history(
        self,
        viewer: Principal,
        *,
        user_id: str | None,
        statuses: list[PaymentStatus],
        kinds: list[PaymentKind],
        first: int,
        after: tuple[dt.datetime, str] | None,
        brief: bool = False,
    ) -> Page:
        """A page of payments; a `brief` one reads only `repository.BRIEF_COLUMNS`."""
        where = repository.HistoryFilter(
            user_id=user_id if viewer.is_admin else viewer.require_user_id(),
            statuses=statuses,
            kinds=kinds,
        )
        first = max(0, min(first, MAX_PAGE))
        async with self.db.read() as connection:
            rows, has_next = await repository.history(
                connection, where, first=first, after=after, brief=brief
            )
            total = await repository.count(connection, where)
        return Page(rows, has_next, total)

    async def failures(
        self, *, since: dt.datetime | None, first: int, after: tuple[dt.datetime, int] | None
    ) -> FailurePage:
        async with self.db.reading() as session:
            rows, has_next, total = await repository.failures(
                session, since=since, first=min(first, MAX_PAGE), after=after
            )
        return FailurePage(rows, has_next, total)

    def _within(self, session: AsyncSession | None) -> AbstractAsyncContextManager[AsyncSession]:
        """The caller's transaction when it gives one, else a transaction of our own."""
        return nullcontext(session) if session is not None else self.db.transaction()

    async def apply_checkout_session(
        self, checkout: StripeCheckoutSession, *, session: AsyncSession | None = None
    ) -> Payment | None:
        """Bring our payment in line with a Checkout Session; None if it is not ours (yet).
        Database writes only: it may run in the caller's transaction (`session`)."""
        async with self._within(session) as session:
            keys = _keys(checkout.payment_id, checkout.id, None, None)
            payment = await repository.find_for_change(session, keys)
            if payment is None:
                return None
            _link(
                payment,
                stripe_checkout_session_id=checkout.id,
                stripe_payment_intent_id=checkout.payment_intent_id,
                stripe_customer_id=checkout.customer_id,
            )
            intent = checkout.payment_intent
            if intent is not None and intent.latest_charge is not None:
                self._apply_charge_fields(payment, intent.latest_charge)
            if checkout.status == "complete" and checkout.payment_status in (
                "paid",
                "no_payment_required",
            ):
                await self._succeed(
                    session,
                    payment,
                    amount=checkout.amount_total,
                    currency=checkout.currency,
                    cause=f"checkout session {checkout.id} paid",
                )
            elif checkout.status == "expired":
                cause = f"checkout session {checkout.id} expired"
                if move(payment, PaymentStatus.EXPIRED, cause=cause):
                    await fail(
                        session,
                        payment,
                        source=FailureSource.CHECKOUT_EXPIRED,
                        reference=checkout.id,
                        code="expired",
                        message="The checkout session expired before the customer paid.",
                    )
            await repository.save(session, payment)
            return payment

    async def fail_checkout(
        self,
        checkout: StripeCheckoutSession,
        *,
        message: str,
        session: AsyncSession | None = None,
    ) -> Payment | None:
        """An asynchronous payment method failed after the session completed. Database writes
        only: it may run in the caller's transaction (`session`)."""
        async with self._within(session) as session:
            keys = _keys(checkout.payment_id, checkout.id, None, None)
            payment = await repository.find_for_change(session, keys)
            if payment is None:
                return None
            if move(payment, PaymentStatus.FAILED, cause=f"checkout session {checkout.id} failed"):
                await fail(
                    session,
                    payment,
                    source=FailureSource.ASYNC_PAYMENT,
                    reference=checkout.id,
                    code="async_payment_failed",
                    message=message,
                )
            await repository.save(session, payment)
            return payment

    async def apply_payment_intent(self, intent: StripePaymentIntent) -> Payment | None:
        """Record what a PaymentIntent says: success, or a failed attempt's error."""
        async with self.db.transaction() as session:
            payment = await find_locked(
                session, payment_id=intent.payment_id, payment_intent_id=intent.id
            )
            if payment is None:
                return None
            _link(
                payment, stripe_payment_intent_id=intent.id, stripe_customer_id=intent.customer_id
            )
            if intent.latest_charge is not None:
                self._apply_charge_fields(payment, intent.latest_charge)
            if payment.kind is PaymentKind.ESCROW:
                await apply_escrow_intent(session, payment, intent)
            elif intent.status == "succeeded":
                await self._succeed(
                    session,
                    payment,
                    amount=intent.amount_received,
                    currency=intent.currency,
                    cause=f"payment intent {intent.id} succeeded",
                )
            elif intent.last_error is not None:
                # Kept even when a later event already moved the payment on (reordering).
                show = payment.status is PaymentStatus.PENDING
                await _failed_attempt(session, payment, intent, show=show)
            await session.flush()
            return payment

    async def apply_charge(self, charge: StripeCharge) -> Payment | None:
        async with self.db.transaction() as session:
            payment = await find_locked(
                session,
                payment_id=charge.metadata.get("payments_payment_id"),
                payment_intent_id=charge.payment_intent_id,
            )
            if payment is None:
                return None
            _link(payment, stripe_payment_intent_id=charge.payment_intent_id)
            self._apply_charge_fields(payment, charge)
            await session.flush()
            return payment

    async def apply_transfer(self, transfer: StripeTransfer) -> Payment | None:
        """Record a transfer to a runner and how much of it was reversed."""
        async with self.db.transaction() as session:
            payment = await find_locked(session, payment_id=transfer.payment_id)
            if payment is None:
                return None
            _link(payment, transfer_id=transfer.id)
            if payment.transfer_id == transfer.id:
                payment.transferred_amount = transfer.amount
                payment.transfer_reversed_amount = max(
                    payment.transfer_reversed_amount, transfer.amount_reversed
                )
            await session.flush()
            return payment

    @staticmethod
    def _apply_charge_fields(payment: Payment, charge: StripeCharge) -> None:
        _link(payment, stripe_charge_id=charge.id, receipt_url=charge.receipt_url)
        if charge.capture_before is not None and payment.kind is PaymentKind.ESCROW:
            payment.hold_expires_at = dt.datetime.fromtimestamp(charge.capture_before, dt.UTC)

    async def _succeed(
        self,
        session: AsyncSession,
        payment: Payment,
        *,
        amount: int | None,
        currency: str | None,
        cause: str,
    ) -> None:
        if amount != payment.amount or (currency or "").upper() != payment.currency:
            log.error(
                "payment %s: Stripe reports %r %s but we expected %s %s; not fulfilled",
                payment.id,
                amount,
                currency,
                payment.amount,
                payment.currency,
            )
            payment.failure_code = "amount_mismatch"
            payment.failure_message = "The amount paid does not match the payment."
            return
        # Once paid, refunds and disputes own the status: a late or replayed success event
        # must not move a refunded or disputed payment back to SUCCEEDED.
        if payment.status not in PAID_STATUSES and move(
            payment, PaymentStatus.SUCCEEDED, cause=cause
        ):
            payment.failure_code = payment.decline_code = payment.failure_message = None
            payment.next_action_url = payment.client_secret = None
        if payment.status in PAID_STATUSES:
            await self._fulfil(session, payment)

    @staticmethod
    async def _fulfil(session: AsyncSession, payment: Payment) -> None:
        # The payment's change (and its event) comes before the credits it grants.
        await repository.save(session, payment)
        if payment.kind in CREDIT_KINDS and payment.credits:
            await ledger.add_entry(
                session,
                user_id=payment.user_id,
                delta=payment.credits,
                reason=EntryReason.PURCHASE,
                payment_id=payment.id,
            )
