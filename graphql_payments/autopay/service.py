"""Autopay: top up a user's credits by charging their saved card while they are away.

Triggers: a day of the month (`dayOfMonth`; in a shorter month, its last day) and a balance
threshold (`belowBalance`). A sweep (`sweep`, run in every server process and by
`graphql-payments autopay run`) looks at each autopay that may be due, by the one clock
(`graphql_payments.clock`), and charges in three short steps:

1. claim, in one transaction under the autopay's row lock (skipped by others on PostgreSQL):
   insert the period's unique row (autopay id + period: `YYYY-MM` monthly, `YYYY-MM-DD#n` for
   the n-th threshold top-up of a day) and a PENDING payment of kind AUTOPAY. Whoever inserts
   the row charges; everyone else finds it taken, so no period is charged twice;
2. charge: an off-session PaymentIntent with the idempotency key
   `autopay-{autopay}-{period}-{attempt}`, so a retry after a crash or timeout replays the same
   charge instead of making a new one;
3. record the outcome: success grants the credits through the ledger (as a checkout does); a
   decline is kept on the payment, the autopay goes PAST_DUE and is retried
   `PAYMENTS_AUTOPAY_RETRY_DAYS` days after the first decline (default 1, 3, 5), then PAUSED
   (PAYMENT_FAILED); `authentication_required` confirms the same PaymentIntent on session to
   get a page for the customer (REQUIRES_ACTION with `nextActionUrl` / `clientSecret`) and
   pauses the autopay (AUTHENTICATION_REQUIRED) until the customer completes it.

The threshold trigger never charges while another charge of the autopay is in flight, and at
most `PAYMENTS_AUTOPAY_MAX_PER_DAY` times a (clock) day. Another card (a new default, or one
set on the autopay) or re-enabling resumes a paused or past-due autopay: its unpaid period is
retried at once, after canceling a charge still waiting for authentication.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_payments import idempotency, metrics
from graphql_payments.autopay import repository
from graphql_payments.autopay.models import (
    Autopay,
    AutopayPeriod,
    AutopayStatus,
    PausedReason,
    Trigger,
    new_autopay_id,
)
from graphql_payments.clock import Clock
from graphql_payments.config import Settings
from graphql_payments.credits.service import CreditService
from graphql_payments.customers import repository as customers
from graphql_payments.customers.models import SavedPaymentMethod
from graphql_payments.db import Database, utcnow
from graphql_payments.errors import (
    AutopayNotFound,
    InvalidInput,
    PaymentMethodNotFound,
    StripeFailed,
)
from graphql_payments.gateway import PAYMENT_ID_KEY, PaymentGateway, StripePaymentIntent
from graphql_payments.ledger import repository as ledger
from graphql_payments.payments import repository as payments
from graphql_payments.payments.models import (
    FailureSource,
    Payment,
    PaymentKind,
    PaymentStatus,
    new_payment_id,
)
from graphql_payments.payments.service import PaymentService, fail, move

log = logging.getLogger(__name__)

AUTHENTICATION_REQUIRED = "authentication_required"
# A claimed charge that has not reached Stripe after this long is sent again (same key).
STALLED_AFTER = dt.timedelta(minutes=2)
UNRESOLVED = frozenset({PaymentStatus.FAILED, PaymentStatus.REQUIRES_ACTION})
# Stripe errors after which the same charge is sent again later (same idempotency key); any
# other refusal (a declined or unusable card) fails the attempt.
RESEND_CODES = frozenset({"idempotency_key_in_use", "lock_timeout", "rate_limit"})


@dataclass(frozen=True, slots=True)
class AutopayRequest:
    idempotency_key: str
    enabled: bool = True
    package_id: str | None = None
    credits: int | None = None
    day_of_month: int | None = None
    below_balance: int | None = None
    payment_method_id: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """A claimed charge, ready to be sent to Stripe."""

    autopay_id: str
    payment_id: str
    period: str
    attempt: int
    customer_id: str
    payment_method_id: str
    amount: int
    currency: str
    superseded_payment_id: str | None = None

    @property
    def idempotency_key(self) -> str:
        return f"autopay-{self.autopay_id}-{self.period}-{self.attempt}"


@dataclass
class SweepReport:
    due: int = 0
    charged: int = 0
    succeeded: int = 0
    declined: int = 0
    requires_action: int = 0


def monthly_occurrence(day: int, year: int, month: int) -> dt.datetime:
    """Day `day` of a month at 00:00 UTC; the month's last day when it is shorter."""
    last = calendar.monthrange(year, month)[1]
    return dt.datetime(year, month, min(day, last), tzinfo=dt.UTC)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def next_monthly(day: int, now: dt.datetime) -> dt.datetime:
    """The first occurrence of `day` on or after today (today's counts: it is due at once)."""
    this_month = monthly_occurrence(day, now.year, now.month)
    if this_month.date() >= now.date():
        return this_month
    return monthly_occurrence(day, *_next_month(now.year, now.month))


def due_month(day: int, now: dt.datetime) -> tuple[int, int]:
    """The month of the latest occurrence of `day` on or before now."""
    if monthly_occurrence(day, now.year, now.month) <= now:
        return now.year, now.month
    return (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)


class AutopayService:
    def __init__(
        self,
        db: Database,
        gateway: PaymentGateway,
        settings: Settings,
        *,
        credits: CreditService,
        payments: PaymentService,
        clock: Clock,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.settings = settings
        self.credits = credits
        self.payments = payments
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    # -- reading -------------------------------------------------------------------------------

    async def get(self, user_id: str) -> Autopay | None:
        async with self.db.reading() as session:
            return await repository.for_user(session, user_id)

    async def view(self, user_id: str) -> tuple[Autopay, SavedPaymentMethod | None] | None:
        """The user's autopay and the card it charges (None when it has none)."""
        async with self.db.reading() as session:
            autopay = await repository.for_user(session, user_id)
            if autopay is None:
                return None
            return autopay, await self._saved_card(session, autopay)

    # -- settings ------------------------------------------------------------------------------

    async def configure(
        self, user_id: str, request: AutopayRequest
    ) -> tuple[Autopay, SavedPaymentMethod | None]:
        """Create, change, re-enable or disable the user's autopay; it and its card after."""
        await self._configure(user_id, request)
        found = await self.view(user_id)
        assert found is not None
        return found

    async def _configure(self, user_id: str, request: AutopayRequest) -> Autopay:
        key = idempotency.check_key(request.idempotency_key)
        if not request.enabled:
            return await self._disable(user_id, key)
        quote = self.credits.quote(package_id=request.package_id, credits=request.credits)
        day = request.day_of_month
        if day is not None and not 1 <= day <= 31:
            raise InvalidInput("dayOfMonth must be between 1 and 31.", field="dayOfMonth")
        below = request.below_balance
        if below is not None and below <= 0:
            raise InvalidInput("belowBalance must be a positive number of credits.",
                                  field="belowBalance")  # fmt: skip
        if day is None and below is None:
            raise InvalidInput(
                "Give at least one trigger: dayOfMonth and/or belowBalance.", field="dayOfMonth"
            )
        card_id = (request.payment_method_id or "").strip() or None
        async with self.db.reading() as session:
            if card_id is not None:
                if await customers.method(session, card_id, user_id=user_id) is None:
                    raise PaymentMethodNotFound(f"No saved payment method {card_id!r}.")
            elif await customers.default_method(session, user_id) is None:
                raise InvalidInput(
                    "Save a card first (addPaymentMethod), or pass paymentMethodId.",
                    field="paymentMethodId",
                )
        digest = idempotency.request_hash(
            {
                "package_id": quote.package_id,
                "credits": quote.credits,
                "amount": quote.amount,
                "day_of_month": day,
                "below_balance": below,
                "payment_method_id": card_id,
            }
        )
        keyed = idempotency.Request("autopay", user_id, key, digest)
        now = await self.clock.now()
        async with self.db.transaction() as session:
            autopay = await repository.for_user(session, user_id, lock=True)
            claim = await idempotency.get_or_claim(
                session, keyed, new_id=autopay.id if autopay else new_autopay_id()
            )
            if not claim.created and autopay is not None:
                return autopay  # a retried request: the settings it made stand
            if autopay is None:
                autopay = Autopay(
                    id=claim.resource_id,
                    user_id=user_id,
                    status=AutopayStatus.ACTIVE,
                    failure_count=0,
                    enabled=True,
                )
                session.add(autopay)
            autopay.credits = quote.credits
            autopay.package_id = quote.package_id
            autopay.amount = quote.amount
            autopay.currency = quote.currency
            autopay.day_of_month = day
            autopay.below_balance = below
            autopay.payment_method_id = card_id
            autopay.next_charge_at = next_monthly(day, now) if day is not None else None
            if not autopay.enabled or autopay.status in (
                AutopayStatus.DISABLED,
                AutopayStatus.PAUSED,
            ):
                autopay.enabled = True
                await self._resume(session, autopay, now)
            await session.flush()
        self.nudge(user_id)
        return autopay

    async def _disable(self, user_id: str, key: str) -> Autopay:
        keyed = idempotency.Request(
            "autopay", user_id, key, idempotency.request_hash({"enabled": False})
        )
        async with self.db.transaction() as session:
            autopay = await repository.for_user(session, user_id, lock=True)
            if autopay is None:
                raise AutopayNotFound("There is no autopay to disable.")
            await idempotency.get_or_claim(session, keyed, new_id=autopay.id)
            autopay.enabled = False
            autopay.status = AutopayStatus.DISABLED
            autopay.paused_reason = None
            autopay.retry_at = None
            await session.flush()
            return autopay

    async def _resume(self, session: AsyncSession, autopay: Autopay, now: dt.datetime) -> None:
        """Active again; an unpaid period is retried at once."""
        autopay.paused_reason = None
        autopay.failure_count = 0
        autopay.failed_payment_method_id = None
        last = None
        if autopay.last_payment_id is not None:
            last = await payments.get(session, autopay.last_payment_id)
        if last is not None and last.status in UNRESOLVED:
            autopay.status = AutopayStatus.PAST_DUE
            autopay.retry_at = now
        else:
            autopay.status = AutopayStatus.ACTIVE
            autopay.retry_at = None

    async def cards_changed(self, user_id: str) -> None:
        """The user's cards changed: follow a removed card to the default, pause without any
        card, resume when the card to charge is another than the one that failed."""
        now = await self.clock.now()
        async with self.db.transaction() as session:
            autopay = await repository.for_user(session, user_id, lock=True)
            if autopay is None or not autopay.enabled:
                return
            card = await self._card(session, autopay)
            status, reason = autopay.status, autopay.paused_reason
            other_card = autopay.failed_payment_method_id not in (None, card)
            if card is None:
                if reason is not PausedReason.NO_PAYMENT_METHOD:
                    self._pause(autopay, PausedReason.NO_PAYMENT_METHOD, card=None)
            elif (
                status is AutopayStatus.PAUSED
                and (reason is PausedReason.NO_PAYMENT_METHOD or other_card)
            ) or (status is AutopayStatus.PAST_DUE and other_card):
                await self._resume(session, autopay, now)
            await session.flush()
        self.nudge(user_id)

    async def _card(self, session: AsyncSession, autopay: Autopay) -> str | None:
        card = await self._saved_card(session, autopay)
        return card.id if card is not None else None

    async def _saved_card(
        self, session: AsyncSession, autopay: Autopay
    ) -> SavedPaymentMethod | None:
        """The card to charge: the autopay's own while saved, else the customer's default."""
        if autopay.payment_method_id is not None:
            own = await customers.method(
                session, autopay.payment_method_id, user_id=autopay.user_id
            )
            if own is not None:
                return own
            autopay.payment_method_id = None
        return await customers.default_method(session, autopay.user_id)

    @staticmethod
    def _pause(autopay: Autopay, reason: PausedReason, *, card: str | None) -> None:
        log.info("autopay %s paused: %s", autopay.id, reason.value)
        autopay.status = AutopayStatus.PAUSED
        autopay.paused_reason = reason
        autopay.retry_at = None
        autopay.failed_payment_method_id = card

    # -- the scheduler -------------------------------------------------------------------------

    async def sweep(self, now: dt.datetime | None = None) -> SweepReport:
        """Charge every autopay that is due now; safe to run in any number of processes."""
        now = now or await self.clock.now()
        report = SweepReport()
        async with self.db.reading() as session:
            ids = await repository.due(session, now)
            stalled = await repository.stalled(session, utcnow() - STALLED_AFTER)
        report.due = len(ids)
        for autopay_id, payment_id in stalled:
            await self._resend(autopay_id, payment_id, report)
        for autopay_id in ids:
            try:
                await self.run(autopay_id, now, report)
            except Exception:
                log.exception("autopay %s: sweep failed; the next sweep tries again", autopay_id)
        return report

    async def run(
        self, autopay_id: str, now: dt.datetime, report: SweepReport | None = None
    ) -> None:
        """Charge one autopay if it is due."""
        report = report or SweepReport()
        attempt = await self._claim(autopay_id, now)
        if attempt is not None:
            report.charged += 1
            await self._charge(attempt, now, report)

    def nudge(self, user_id: str) -> None:
        """Look at the user's autopay now, in the background (after a consumption, a card
        change or new settings), instead of waiting for the next sweep."""
        task = asyncio.create_task(self._run_user(user_id), name=f"autopay-{user_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_user(self, user_id: str) -> None:
        try:
            autopay = await self.get(user_id)
            if autopay is not None and autopay.enabled:
                await self.run(autopay.id, await self.clock.now())
        except Exception:
            log.exception("autopay of %s: check failed; the next sweep tries again", user_id)

    async def wait_idle(self) -> None:
        """Wait for background checks started by `nudge`."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _claim(self, autopay_id: str, now: dt.datetime) -> Attempt | None:
        async with self.db.transaction() as session:
            autopay = await repository.claim_row(session, autopay_id)
            if autopay is None or not autopay.enabled:
                return None
            if autopay.status is AutopayStatus.PAST_DUE:
                return await self._claim_retry(session, autopay, now)
            if autopay.status is not AutopayStatus.ACTIVE:
                return None
            if await repository.in_flight(session, autopay.id):
                return None
            period = await self._due_period(session, autopay, now)
            if period is None:
                return None
            card = await self._card(session, autopay)
            if card is None:
                self._pause(autopay, PausedReason.NO_PAYMENT_METHOD, card=None)
                await session.flush()
                return None
            claimed = await repository.claim_period(
                session, autopay_id=autopay.id, period=period[0], trigger=period[1], now=now
            )
            if claimed is None:
                await session.flush()
                return None
            return await self._new_attempt(session, autopay, claimed, card)

    async def _due_period(
        self, session: AsyncSession, autopay: Autopay, now: dt.datetime
    ) -> tuple[str, Trigger] | None:
        if (
            autopay.day_of_month is not None
            and autopay.next_charge_at is not None
            and autopay.next_charge_at <= now
        ):
            year, month = due_month(autopay.day_of_month, now)
            autopay.next_charge_at = monthly_occurrence(
                autopay.day_of_month, *_next_month(year, month)
            )
            return f"{year:04d}-{month:02d}", Trigger.MONTHLY
        if autopay.below_balance is None:
            return None
        if await ledger.balance(session, autopay.user_id) >= autopay.below_balance:
            return None
        day = now.date().isoformat()
        today = await repository.threshold_claims_on(session, autopay.id, day)
        if today >= self.settings.autopay_max_per_day:
            return None
        return f"{day}#{today + 1}", Trigger.THRESHOLD

    async def _claim_retry(
        self, session: AsyncSession, autopay: Autopay, now: dt.datetime
    ) -> Attempt | None:
        if autopay.retry_at is None or autopay.retry_at > now or autopay.last_payment_id is None:
            return None
        period = await repository.period_of(session, autopay.last_payment_id)
        previous = await payments.get(session, autopay.last_payment_id, lock=True)
        if period is None or previous is None:
            autopay.status, autopay.retry_at = AutopayStatus.ACTIVE, None
            return None
        if previous.status not in UNRESOLVED:
            # The period was paid after all (a late authentication, or a replayed success).
            autopay.status, autopay.retry_at = AutopayStatus.ACTIVE, None
            return None
        card = await self._card(session, autopay)
        if card is None:
            self._pause(autopay, PausedReason.NO_PAYMENT_METHOD, card=None)
            return None
        period.attempts += 1
        autopay.retry_at = None
        superseded = previous.id if previous.status is PaymentStatus.REQUIRES_ACTION else None
        return await self._new_attempt(session, autopay, period, card, superseded=superseded)

    async def _new_attempt(
        self,
        session: AsyncSession,
        autopay: Autopay,
        period: AutopayPeriod,
        card: str,
        *,
        superseded: str | None = None,
    ) -> Attempt:
        customer_id = await customers.stripe_customer_id(session, autopay.user_id)
        assert customer_id is not None, "a saved card implies a customer"
        payment = await payments.add(
            session,
            Payment(
                id=new_payment_id(),
                user_id=autopay.user_id,
                kind=PaymentKind.AUTOPAY,
                status=PaymentStatus.PENDING,
                amount=autopay.amount,
                currency=autopay.currency,
                credits=autopay.credits,
                package_id=autopay.package_id,
                description=f"Autopay {period.period}: {autopay.credits} credits",
                stripe_customer_id=customer_id,
                autopay_id=autopay.id,
            ),
        )
        period.payment_id = payment.id
        autopay.last_payment_id = payment.id
        await session.flush()
        log.info(
            "autopay %s: charging period %s (attempt %d) as payment %s",
            autopay.id,
            period.period,
            period.attempts,
            payment.id,
        )
        return Attempt(
            autopay_id=autopay.id,
            payment_id=payment.id,
            period=period.period,
            attempt=period.attempts,
            customer_id=customer_id,
            payment_method_id=card,
            amount=autopay.amount,
            currency=autopay.currency,
            superseded_payment_id=superseded,
        )

    async def _resend(self, autopay_id: str, payment_id: str, report: SweepReport) -> None:
        """Send again a charge whose claim committed but whose Stripe call never answered."""
        async with self.db.reading() as session:
            period = await repository.period_of(session, payment_id)
            payment = await payments.get(session, payment_id)
            autopay = await repository.for_user(session, payment.user_id) if payment else None
            card = await self._card(session, autopay) if autopay else None
        if period is None or payment is None or autopay is None or card is None:
            return
        assert payment.stripe_customer_id is not None
        attempt = Attempt(
            autopay_id=autopay_id,
            payment_id=payment_id,
            period=period.period,
            attempt=period.attempts,
            customer_id=payment.stripe_customer_id,
            payment_method_id=card,
            amount=payment.amount,
            currency=payment.currency,
        )
        report.charged += 1
        await self._charge(attempt, await self.clock.now(), report)

    async def _charge(self, attempt: Attempt, now: dt.datetime, report: SweepReport) -> None:
        if attempt.superseded_payment_id is not None and await self._cancel_superseded(attempt):
            return
        try:
            intent = await self.gateway.charge_off_session(
                amount=attempt.amount,
                currency=attempt.currency,
                customer_id=attempt.customer_id,
                payment_method_id=attempt.payment_method_id,
                description=f"Autopay {attempt.period}",
                metadata={
                    PAYMENT_ID_KEY: attempt.payment_id,
                    "payments_autopay_id": attempt.autopay_id,
                    "payments_period": attempt.period,
                },
                idempotency_key=attempt.idempotency_key,
            )
        except StripeFailed as exc:
            if exc.retryable or exc.stripe_code in RESEND_CODES:
                log.warning(
                    "autopay %s: Stripe unavailable; payment %s is sent again later: %s",
                    attempt.autopay_id,
                    attempt.payment_id,
                    exc,
                )
                return
            await self._declined(attempt, exc, now, report)
            return
        applied = await self.payments.apply_payment_intent(intent)
        if applied is not None and applied.status is PaymentStatus.SUCCEEDED:
            report.succeeded += 1
            metrics.AUTOPAY.labels("succeeded").inc()
            await self.payment_settled(applied)

    async def _cancel_superseded(self, attempt: Attempt) -> bool:
        """Cancel the charge still waiting for authentication before charging another card;
        True when it turns out to be paid (the new attempt is canceled instead)."""
        async with self.db.reading() as session:
            previous = await payments.get(session, attempt.superseded_payment_id or "")
        if previous is None or previous.stripe_payment_intent_id is None:
            return False
        try:
            intent = await self.gateway.cancel_payment(
                previous.stripe_payment_intent_id, idempotency_key=f"cancel-{previous.id}"
            )
        except StripeFailed:
            intent = await self.gateway.retrieve_payment_intent(previous.stripe_payment_intent_id)
        paid = intent.status == "succeeded"
        await self.payments.apply_payment_intent(intent)
        async with self.db.transaction() as session:
            stored = await payments.get(session, previous.id, lock=True)
            if stored is not None and intent.status == "canceled":
                stored.next_action_url = stored.client_secret = None
                move(stored, PaymentStatus.CANCELED, cause="superseded by an autopay retry")
            if paid:
                fresh = await payments.get(session, attempt.payment_id, lock=True)
                if fresh is not None:
                    move(fresh, PaymentStatus.CANCELED, cause="the earlier charge was paid")
            await session.flush()
        if paid and stored is not None:
            await self.payment_settled(stored)
        return paid

    async def _declined(
        self, attempt: Attempt, exc: StripeFailed, now: dt.datetime, report: SweepReport
    ) -> None:
        intent: StripePaymentIntent | None = None
        if exc.payment_intent_id is not None:
            intent = await self.gateway.retrieve_payment_intent(exc.payment_intent_id)
        needs_customer = AUTHENTICATION_REQUIRED in (exc.stripe_code, exc.decline_code)
        action: StripePaymentIntent | None = None
        if needs_customer and intent is not None:
            try:
                action = await self.gateway.confirm_on_session(
                    intent.id,
                    payment_method_id=attempt.payment_method_id,
                    return_url=self.settings.autopay_return_page,
                    idempotency_key=f"autopay-authenticate-{attempt.payment_id}",
                )
            except StripeFailed as error:
                log.warning("autopay %s: could not start authentication: %s", attempt.autopay_id,
                            error)  # fmt: skip
        async with self.db.transaction() as session:
            payment = await payments.get(session, attempt.payment_id, lock=True)
            assert payment is not None
            autopay = await repository.for_user(session, payment.user_id, lock=True)
            if intent is not None and payment.stripe_payment_intent_id is None:
                payment.stripe_payment_intent_id = intent.id
            if intent is not None and intent.latest_charge_id and not payment.stripe_charge_id:
                payment.stripe_charge_id = intent.latest_charge_id
            await fail(
                session,
                payment,
                source=FailureSource.PAYMENT_ATTEMPT,
                reference=(intent.latest_charge_id or intent.id) if intent else attempt.payment_id,
                code=exc.stripe_code,
                decline_code=exc.decline_code,
                message=exc.message,
            )
            if action is not None and action.status == "requires_action":
                report.requires_action += 1
                metrics.AUTOPAY.labels("requires_action").inc()
                if move(payment, PaymentStatus.REQUIRES_ACTION, cause="authentication required"):
                    payment.next_action_url = action.next_action_url
                    payment.client_secret = action.client_secret
                if autopay is not None and autopay.last_payment_id == payment.id:
                    self._pause(
                        autopay,
                        PausedReason.AUTHENTICATION_REQUIRED,
                        card=attempt.payment_method_id,
                    )
            else:
                report.declined += 1
                metrics.AUTOPAY.labels("declined").inc()
                move(payment, PaymentStatus.FAILED, cause=f"declined ({exc.decline_code})")
                if autopay is not None and autopay.last_payment_id == payment.id:
                    await self._schedule_retry(session, autopay, attempt, now)
            await session.flush()

    async def _schedule_retry(
        self, session: AsyncSession, autopay: Autopay, attempt: Attempt, now: dt.datetime
    ) -> None:
        autopay.failure_count += 1
        autopay.failed_payment_method_id = attempt.payment_method_id
        days = self.settings.autopay_retry_days
        if autopay.failure_count > len(days):
            self._pause(autopay, PausedReason.PAYMENT_FAILED, card=attempt.payment_method_id)
            return
        period = await repository.period_named(session, autopay.id, attempt.period)
        start = period.created_at if period is not None else now
        autopay.status = AutopayStatus.PAST_DUE
        autopay.retry_at = max(start + dt.timedelta(days=days[autopay.failure_count - 1]), now)
        log.info("autopay %s past due; retry at %s", autopay.id, autopay.retry_at.isoformat())

    async def payment_settled(self, payment: Payment) -> None:
        """An autopay charge was paid (now, or later through authentication or a webhook)."""
        if payment.kind is not PaymentKind.AUTOPAY or payment.status is not PaymentStatus.SUCCEEDED:
            return
        async with self.db.transaction() as session:
            autopay = await repository.for_user(session, payment.user_id, lock=True)
            if autopay is None or autopay.last_payment_id != payment.id:
                return
            if autopay.enabled:
                autopay.status = AutopayStatus.ACTIVE
            autopay.paused_reason = None
            autopay.failure_count = 0
            autopay.retry_at = None
            autopay.failed_payment_method_id = None
            await session.flush()
