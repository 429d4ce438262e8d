"""Events from the changes a transaction flushes: one hook sees every payment and dispute.

Services change `Payment.status` through the transition table and refunds set
`refunded_amount`; rather than ask each writer to remember an event, a `before_flush` hook
compares each payment's and dispute's state with what was loaded and appends the events the
change means to the outbox, in the same transaction. New payments are written and announced
(`payment.created`) by `payments.repository.add`, and ledger entries written with
`ledger.repository.add_entry` (an upsert) by it, after the payment changes that caused them;
entries added as objects are announced here. A payment changed without the ORM's unit of work
(`payments.repository.save`) is announced by the same rules (`payment_events`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from graphql_payments.autopay.models import Autopay, AutopayStatus
from graphql_payments.events.catalogue import EventType
from graphql_payments.events.outbox import append
from graphql_payments.ledger.models import CreditEntry
from graphql_payments.ledger.repository import event_for
from graphql_payments.payments.models import Payment, PaymentKind, PaymentStatus
from graphql_payments.refunds.models import CLOSED_DISPUTE_STATUSES, Dispute

S = PaymentStatus


def payment_fields(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "userId": payment.user_id,
        "kind": payment.kind.value,
        "status": payment.status.value,
        "amount": payment.amount,
        "currency": payment.currency,
        "refundedAmount": payment.refunded_amount or 0,
        "credits": payment.credits,
        "packageId": payment.package_id,
        "orderId": payment.order_id,
        "runnerId": payment.runner_id,
        "autopayId": payment.autopay_id,
        "capturedAmount": payment.captured_amount,
        "platformFee": payment.platform_fee,
        "failureCode": payment.failure_code,
        "declineCode": payment.decline_code,
        "failureMessage": payment.failure_message,
    }


def transition_event(kind: PaymentKind, old: PaymentStatus, new: PaymentStatus) -> EventType | None:
    """The event a status change announces, if any (money-back moves have their own)."""
    escrow = kind is PaymentKind.ESCROW
    if kind is PaymentKind.AUTOPAY:  # an automatic top-up's charge
        if new is S.SUCCEEDED and old in (S.PENDING, S.REQUIRES_ACTION):
            return EventType.AUTOPAY_CHARGED
        if new is S.FAILED:
            return EventType.AUTOPAY_FAILED
    if new is S.FAILED:
        return EventType.PAYMENT_FAILED
    if new is S.DISPUTED:
        return EventType.PAYMENT_DISPUTED
    if new is S.EXPIRED:
        return EventType.ESCROW_EXPIRED if escrow else EventType.PAYMENT_EXPIRED
    if escrow:
        if new is S.AUTHORIZED:
            return EventType.ESCROW_AUTHORIZED
        if new is S.RELEASED and old is S.AUTHORIZED:
            return EventType.ESCROW_RELEASED
        if new is S.REVERTED:
            return EventType.ESCROW_REVERTED
    elif new is S.SUCCEEDED and old is S.PENDING:
        return EventType.PAYMENT_SUCCEEDED
    return None


def _before(attribute: Any) -> Any:
    history = attribute.history
    return history.deleted[0] if history.has_changes() and history.deleted else None


def payment_events(
    payment: Payment, *, status_before: PaymentStatus | None, refunded_before: int | None
) -> list[tuple[EventType, dict[str, Any]]]:
    """The events a change of the payment announces, given the status and refunded amount it
    had before (None for one that did not change), each with its extra fields."""
    found: list[tuple[EventType, dict[str, Any]]] = []
    if refunded_before is not None and payment.refunded_amount > refunded_before:
        refund = {
            "amount": payment.refunded_amount - refunded_before,
            "refundedAmount": payment.refunded_amount,
            "currency": payment.currency,
        }
        found.append((EventType.PAYMENT_REFUNDED, {"refund": refund}))
    if status_before is not None:
        kind = transition_event(payment.kind, status_before, payment.status)
        if kind is not None:
            found.append((kind, {}))
    return found


def _payment_events(payment: Payment) -> list[tuple[EventType, dict[str, Any]]]:
    state = inspect(payment)
    return payment_events(
        payment,
        status_before=_before(state.attrs.status),
        refunded_before=_before(state.attrs.refunded_amount),
    )


def _paused(autopay: Autopay) -> bool:
    """An autopay that pauses now (a new reason while paused counts as pausing again)."""
    if autopay.status is not AutopayStatus.PAUSED:
        return False
    state = inspect(autopay)
    if state.pending:
        return True
    return _before(state.attrs.status) is not None or _before(state.attrs.paused_reason) is not None


def _dispute_closed(dispute: Dispute) -> bool:
    state = inspect(dispute)
    if dispute.is_open:
        return False
    if state.pending:
        return True
    before = _before(state.attrs.status)
    return before is not None and before not in CLOSED_DISPUTE_STATUSES


def install() -> None:
    """Record events from every session's flushes (idempotent)."""
    if not event.contains(Session, "before_flush", _record):
        event.listen(Session, "before_flush", _record)


def _record(session: Session, _context: Any, _instances: Any) -> None:
    for obj in [*session.new, *session.dirty]:
        if isinstance(obj, Payment):
            for kind, extra in _payment_events(obj):
                fields = {"payment": payment_fields(obj), **extra}
                append(session, kind, payment_id=obj.id, user_id=obj.user_id, fields=fields)
        elif isinstance(obj, CreditEntry) and inspect(obj).pending:
            # Entries added through the ORM; `add_entry`'s upserts announce themselves.
            reference = obj.reference or ""
            credits = {"delta": obj.delta, "reason": obj.reason.value, "reference": reference}
            append(
                session,
                event_for(obj.reason, obj.delta),
                payment_id=obj.payment_id,
                user_id=obj.user_id,
                fields={"credits": credits},
            )
        elif isinstance(obj, Autopay) and _paused(obj):
            autopay = {
                "id": obj.id,
                "status": obj.status.value,
                "pausedReason": obj.paused_reason.value if obj.paused_reason else None,
                "failureCount": obj.failure_count or 0,
                "lastPaymentId": obj.last_payment_id,
            }
            append(
                session,
                EventType.AUTOPAY_PAUSED,
                payment_id=None,
                user_id=obj.user_id,
                fields={"autopay": autopay},
            )
        elif isinstance(obj, Dispute) and _dispute_closed(obj):
            payment = session.get(Payment, obj.payment_id)
            assert payment is not None
            dispute = {
                "id": obj.id,
                "status": obj.status,
                "amount": obj.amount,
                "currency": obj.currency,
                "reason": obj.reason,
            }
            fields = {"payment": payment_fields(payment), "dispute": dispute}
            append(
                session,
                EventType.DISPUTE_CLOSED,
                payment_id=payment.id,
                user_id=payment.user_id,
                fields=fields,
            )
