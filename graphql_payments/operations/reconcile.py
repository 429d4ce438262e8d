"""Reconciliation: bring every record in line with Stripe, with nobody asking.

One pass (`Reconciler.run`, every `PAYMENTS_RECONCILE_INTERVAL` in every server process, or
`graphql-payments reconcile`):

1. Event catch-up: list Stripe's events since the newest one caught up on (`/v1/events`, kept
   30 days by Stripe) and feed the ones the inbox lacks into it, processed like a delivery. So a
   lost delivery, a server killed mid-burst or a disabled webhook endpoint heals.
2. Stale payments: a payment PENDING or REQUIRES_ACTION for longer than the grace period is
   looked up at Stripe and moved by the same fulfilment code as its webhook (paid: credited
   once; expired: EXPIRED).
3. Half-done operations: a release that captured but did not transfer, a revert stopped
   between its steps, resumed with the same Stripe idempotency keys as the first call.
4. Refunds left PENDING (a Stripe error or a crash before the answer was recorded) are sent
   again with the same idempotency key; after `PAYMENTS_REFUND_MAX_ATTEMPTS` attempts one that
   Stripe does not hold is marked FAILED and its amount freed. A runner's share not yet taken
   back after a refund is reversed.

Every repair is claimed first (`repair_claims`), so with many processes each one is worked on
by one of them at a time, and a repair that fails waits longer each time (up to an hour).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from graphql_payments import metrics
from graphql_payments.config import Settings
from graphql_payments.db import Database, utcnow
from graphql_payments.errors import PaymentsError, StripeFailed
from graphql_payments.escrow.service import REVERT, EscrowService
from graphql_payments.gateway import PaymentGateway
from graphql_payments.operations import repository
from graphql_payments.payments import repository as payments
from graphql_payments.payments.service import PaymentService
from graphql_payments.refunds import repository as refunds
from graphql_payments.refunds.models import RefundStatus
from graphql_payments.refunds.service import RefundService
from graphql_payments.webhooks import repository as inbox_repository
from graphql_payments.webhooks.service import WebhookInbox

log = logging.getLogger(__name__)

EVENTS = "events"
LAST_PASS = "reconciliation"
# Events are listed again from a little before the newest one seen: Stripe's list is
# eventually consistent, and an event stored twice is a no-op.
OVERLAP = 60
# With nothing caught up on yet, look this far back (Stripe retries a delivery for 3 days).
FIRST_LOOKBACK = dt.timedelta(days=3)
MAX_BACKOFF = dt.timedelta(hours=1)
BATCH = 200


@dataclass(frozen=True, slots=True)
class Repair:
    kind: str  # event, payment, operation, refund
    target: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.target}: {self.detail}"


@dataclass
class Report:
    repairs: list[Repair] = field(default_factory=list)
    errors: list[Repair] = field(default_factory=list)
    events_seen: int = 0


def backoff(interval: float, attempts: int) -> dt.timedelta:
    """Wait before trying a repair again: the interval, doubled per failed attempt, <= 1 h."""
    return min(dt.timedelta(seconds=interval * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


class Reconciler:
    def __init__(
        self,
        *,
        db: Database,
        gateway: PaymentGateway,
        settings: Settings,
        payments: PaymentService,
        escrow: EscrowService,
        refunds: RefundService,
        inbox: WebhookInbox,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.settings = settings
        self.payments = payments
        self.escrow = escrow
        self.refunds = refunds
        self.inbox = inbox

    async def run(self, *, since: dt.datetime | None = None, force: bool = False) -> Report:
        """One full pass; `since` lists events from then instead of the stored cursor, `force`
        lists them even when another process did so this interval (an operator's pass)."""
        report = Report()
        await self.catch_up(report, since=since, force=force)
        await self.stale_payments(report)
        await self.half_done_operations(report)
        await self.unfinished_refunds(report)
        async with self.db.transaction() as session:
            await repository.set_state(session, LAST_PASS, at=utcnow())
        for repair in report.repairs:
            metrics.REPAIRS.labels(repair.kind).inc()
            log.info("reconciliation repaired %s", repair)
        for problem in report.errors:
            metrics.RECONCILIATION_ERRORS.labels(problem.kind).inc()
        return report

    # -- claims -----------------------------------------------------------------------------

    async def _attempt(
        self,
        report: Report,
        kind: str,
        target: str,
        work: Callable[[int], Awaitable[str | None]],
    ) -> None:
        """Claim `target`, run `work(attempt)`; its text (if any) is a repair, an error waits."""
        now = utcnow()
        lease = dt.timedelta(seconds=max(self.settings.reconcile_interval, 30.0))
        async with self.db.transaction() as session:
            attempt = await repository.claim(
                session, kind=kind, target_id=target, now=now, retry_in=lease
            )
        if attempt is None:
            return
        try:
            changed = await work(attempt)
        except Exception as exc:
            if not isinstance(exc, PaymentsError):
                log.exception("reconciliation of %s %s failed", kind, target)
            else:
                log.warning("reconciliation of %s %s failed: %s", kind, target, exc)
            report.errors.append(Repair(kind, target, f"{type(exc).__name__}: {exc}"))
            async with self.db.transaction() as session:
                await repository.note_error(session, kind=kind, target_id=target, error=str(exc))
                await repository.reschedule(
                    session,
                    kind=kind,
                    target_id=target,
                    at=utcnow() + backoff(self.settings.reconcile_interval, attempt),
                )
            return
        if changed:
            report.repairs.append(Repair(kind, target, changed))
        async with self.db.transaction() as session:
            if await self._settled(session, kind, target):
                await repository.release_claim(session, kind=kind, target_id=target)
            else:
                await repository.reschedule(
                    session,
                    kind=kind,
                    target_id=target,
                    at=utcnow() + backoff(self.settings.reconcile_interval, attempt),
                )

    @staticmethod
    async def _settled(session: Any, kind: str, target: str) -> bool:
        if kind in ("payment", "operation"):
            payment = await payments.get(session, target)
            if payment is None:
                return True
            if kind == "operation":
                return payment.pending_operation is None
            return payment.status not in repository.WAITING
        if kind == "refund":
            refund = await refunds.get(session, target)
            return refund is None or (
                refund.status is not RefundStatus.PENDING
                and (refund.transfer_reversed or refund.transfer_reversal <= 0)
            )
        return False

    # -- 1. events ---------------------------------------------------------------------------

    async def catch_up(
        self, report: Report, *, since: dt.datetime | None = None, force: bool = False
    ) -> None:
        """Feed the events Stripe has and the inbox lacks into the inbox, oldest first."""
        now = utcnow()
        if since is None:
            # One process per interval lists the events; the others have nothing to add.
            lease = dt.timedelta(seconds=self.settings.reconcile_interval * 0.9)
            async with self.db.transaction() as session:
                taken = await repository.claim(
                    session, kind=EVENTS, target_id="stripe", now=now, retry_in=lease
                )
                state = await repository.get_state(session, EVENTS)
                newest = await inbox_repository.newest_created(session)
            if taken is None and not force:
                return
            if state is not None and state.cursor is not None:
                start = state.cursor - OVERLAP
            elif newest is not None:
                start = int(newest.timestamp()) - OVERLAP
            else:
                start = int((now - FIRST_LOOKBACK).timestamp())
        else:
            start = int(since.timestamp())
        try:
            events = await self.gateway.list_events(created_gte=start)
        except PaymentsError as exc:
            log.warning("reconciliation: could not list Stripe events: %s", exc)
            report.errors.append(Repair("event", "list", str(exc)))
            return
        report.events_seen += len(events)
        for event in events:
            status = await self.inbox.ingest(event)
            if status is not None:
                report.repairs.append(
                    Repair("event", event["id"], f"{event['type']} caught up: {status.value}")
                )
        newest_seen = max((int(e.get("created") or 0) for e in events), default=0)
        if newest_seen:
            async with self.db.transaction() as session:
                await repository.set_state(session, EVENTS, cursor=newest_seen, at=utcnow())

    # -- 2. payments waiting for Stripe ------------------------------------------------------

    async def stale_payments(self, report: Report) -> None:
        now = utcnow()
        async with self.db.reading() as session:
            ids = await repository.stale_payments(
                session, older_than=self._grace(now), now=now, limit=BATCH
            )
        for payment_id in ids:
            await self._attempt(report, "payment", payment_id, self._refresh_payment(payment_id))

    def _refresh_payment(self, payment_id: str) -> Callable[[int], Awaitable[str | None]]:
        async def work(attempt: int) -> str | None:
            async with self.db.reading() as session:
                payment = await payments.get(session, payment_id)
            if payment is None or payment.status not in repository.WAITING:
                return None
            before = payment.status
            after = (await self.payments.refresh(payment, raise_errors=True)).status
            return None if after is before else f"{before.value} -> {after.value}"

        return work

    # -- 3. releases and reverts left half-done ----------------------------------------------

    async def half_done_operations(self, report: Report) -> None:
        now = utcnow()
        async with self.db.reading() as session:
            found = await repository.half_done_operations(
                session, older_than=self._grace(now), now=now, limit=BATCH
            )
        for payment_id, operation in found:
            work = self._resume(payment_id, operation)
            await self._attempt(report, "operation", payment_id, work)

    def _resume(self, payment_id: str, operation: str) -> Callable[[int], Awaitable[str | None]]:
        async def work(attempt: int) -> str | None:
            if operation == REVERT and attempt > self.settings.refund_max_attempts:
                # A revert waits on its refund: the refund's bound applies to it as well.
                async with self.db.reading() as session:
                    refund = await refunds.pending_for_payment(session, payment_id)
                unsent = refund.id if refund and refund.stripe_refund_id is None else None
                if unsent and await self.refunds.give_up(unsent, attempts=attempt - 1) is None:
                    raise StripeFailed("Stripe could not be asked about the refund.")
            payment = await self.escrow.resume(payment_id)
            return f"{operation} resumed: {payment.status.value}"

        return work

    # -- 4. refunds --------------------------------------------------------------------------

    async def unfinished_refunds(self, report: Report) -> None:
        now = utcnow()
        async with self.db.reading() as session:
            ids = await repository.unfinished_refunds(
                session, older_than=self._grace(now), now=now, limit=BATCH
            )
        for refund_id in ids:
            await self._attempt(report, "refund", refund_id, self._finish_refund(refund_id))

    def _finish_refund(self, refund_id: str) -> Callable[[int], Awaitable[str | None]]:
        async def work(attempt: int) -> str | None:
            async with self.db.reading() as session:
                refund = await refunds.get(session, refund_id)
                assert refund is not None
                payment = await payments.get(session, refund.payment_id)
                assert payment is not None
            if refund.status is RefundStatus.PENDING and refund.stripe_refund_id is not None:
                # Stripe has it and said pending: ask what it says now.
                if payment.stripe_payment_intent_id is not None:
                    await self.refunds.reconcile(payment.stripe_payment_intent_id)
            elif refund.status is RefundStatus.PENDING:
                if attempt > self.settings.refund_max_attempts:
                    outcome = await self.refunds.give_up(refund_id, attempts=attempt - 1)
                    if outcome is None:
                        raise PaymentsError("Stripe could not be asked about the refund")
                    return f"PENDING -> {outcome.refund.status.value} (gave up)"
                outcome = await self.refunds.execute(refund_id)
                return f"PENDING -> {outcome.refund.status.value}"
            else:
                await self.refunds.reverse_transfer(refund_id)
                return "runner's share reversed"
            async with self.db.reading() as session:
                now = await refunds.get(session, refund_id)
            assert now is not None
            if now.status is refund.status:
                return None
            return f"{refund.status.value} -> {now.status.value}"

        return work

    def _grace(self, now: dt.datetime) -> dt.datetime:
        return now - dt.timedelta(seconds=self.settings.reconcile_grace)
