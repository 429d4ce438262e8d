"""`ledger verify --stripe`: compare every payment with what Stripe holds.

For each payment Stripe knows of: its status, what was captured and what was refunded, and
whether an operation is left half-done. Every difference is a sentence; none means our records
and Stripe agree.
"""

from __future__ import annotations

import datetime as dt

from graphql_payments.db import Database
from graphql_payments.errors import StripeFailed
from graphql_payments.gateway import PaymentGateway, StripePaymentIntent
from graphql_payments.operations import repository
from graphql_payments.payments.models import Payment, PaymentKind, PaymentStatus
from graphql_payments.payments.states import PAID_STATUSES

S = PaymentStatus
PAGE = 100


def expected_statuses(
    payment: Payment, intent: StripePaymentIntent | None, checkout_status: str | None
) -> frozenset[PaymentStatus]:
    """The statuses our payment may be in, given Stripe's objects."""
    waiting = frozenset({S.PENDING, S.REQUIRES_ACTION, S.FAILED})
    if intent is None:
        if checkout_status == "expired":
            return frozenset({S.EXPIRED, S.CANCELED})
        return waiting | {S.CANCELED}
    if intent.status == "succeeded":
        paid = PAID_STATUSES | {S.REVERTED} if payment.kind is PaymentKind.ESCROW else PAID_STATUSES
        return frozenset(paid)
    if intent.status == "requires_capture":
        return frozenset({S.AUTHORIZED})
    if intent.status == "canceled":
        return frozenset({S.REVERTED, S.EXPIRED, S.CANCELED, S.FAILED})
    if checkout_status == "expired":
        return frozenset({S.EXPIRED, S.CANCELED})
    return waiting


async def compare(gateway: PaymentGateway, payment: Payment) -> list[str]:
    """The differences between one payment and Stripe."""
    found: list[str] = []
    label = f"payment {payment.id} ({payment.kind.value})"
    if payment.pending_operation is not None:
        found.append(f"{label}: {payment.pending_operation} left half-done")
    checkout_status = None
    intent = None
    if payment.stripe_payment_intent_id is not None:
        intent = await gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    if payment.stripe_checkout_session_id is not None and (
        intent is None or intent.status != "succeeded"
    ):
        checkout = await gateway.retrieve_checkout_session(payment.stripe_checkout_session_id)
        checkout_status = checkout.status
        intent = intent or checkout.payment_intent
    allowed = expected_statuses(payment, intent, checkout_status)
    stripe_says = intent.status if intent is not None else f"checkout {checkout_status}"
    if payment.status not in allowed:
        found.append(f"{label}: ours {payment.status.value}, Stripe {stripe_says}")
    if intent is None or intent.status != "succeeded":
        return found
    captured = payment.captured_amount if payment.kind is PaymentKind.ESCROW else payment.amount
    if payment.status in PAID_STATUSES and captured != intent.amount_received:
        found.append(
            f"{label}: captured {captured} {payment.currency} here, "
            f"{intent.amount_received} at Stripe"
        )
    refunds = await gateway.list_refunds(intent.id)
    refunded = sum(r.amount for r in refunds if r.status == "succeeded")
    if refunded != payment.refunded_amount:
        found.append(
            f"{label}: refunded {payment.refunded_amount} {payment.currency} here, "
            f"{refunded} at Stripe"
        )
    return found


async def verify_with_stripe(
    db: Database, gateway: PaymentGateway, *, since: dt.datetime | None = None
) -> list[str]:
    """Every difference between our payments (created since `since`) and Stripe."""
    problems: list[str] = []
    after: str | None = None
    while True:
        async with db.reading() as session:
            batch = await repository.payments_with_stripe(
                session, since=since, after_id=after, limit=PAGE
            )
        for payment in batch:
            try:
                problems.extend(await compare(gateway, payment))
            except StripeFailed as exc:
                problems.append(f"payment {payment.id}: Stripe could not be asked: {exc.message}")
        if len(batch) < PAGE:
            return problems
        after = batch[-1].id
