"""Credit packages, prices, checkout for a credit purchase, balances and the ledger check."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from math import gcd

from graphql_payments import idempotency, validation
from graphql_payments.config import CreditPackage, Settings
from graphql_payments.customers.service import ensure_customer
from graphql_payments.db import Database
from graphql_payments.errors import InsufficientCredits, InvalidInput, PackageNotFound
from graphql_payments.gateway import PAYMENT_ID_KEY, PaymentGateway
from graphql_payments.ledger import invariants
from graphql_payments.ledger import repository as ledger
from graphql_payments.ledger.models import CreditEntry
from graphql_payments.money import exponent, format_amount
from graphql_payments.payments import repository as payments
from graphql_payments.payments.models import (
    Payment,
    PaymentKind,
    PaymentRecord,
    PaymentStatus,
    new_payment_id,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Quote:
    credits: int
    amount: int
    currency: str
    package_id: str | None
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    idempotency_key: str
    success_url: str | None = None
    cancel_url: str | None = None
    package_id: str | None = None
    credits: int | None = None


@dataclass(frozen=True, slots=True)
class Consumption:
    balance: int
    entry: CreditEntry


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entries: list[CreditEntry]
    has_next: bool
    total: int


# Told the user whose credits were spent (the autopay threshold trigger listens).
ConsumptionListener = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class CheckoutOutcome:
    payment: PaymentRecord
    checkout_url: str
    session_id: str


class CreditService:
    def __init__(self, db: Database, gateway: PaymentGateway, settings: Settings) -> None:
        self.db = db
        self.gateway = gateway
        self.settings = settings
        self.consumption_listeners: list[ConsumptionListener] = []

    def packages(self) -> list[CreditPackage]:
        return list(self.settings.credit_packages)

    def credits_step(self) -> int:
        """Custom amounts come in multiples of this, so each prices to whole minor units."""
        minor_per_unit = 10 ** exponent(self.settings.currency)
        per_unit = self.settings.credits_per_unit
        return per_unit // gcd(per_unit, minor_per_unit)

    def quote(self, *, package_id: str | None, credits: int | None) -> Quote:
        """The price of a package or of a custom number of credits."""
        if (package_id is None) == (credits is None):
            raise InvalidInput("Give exactly one of packageId and credits.", field="packageId")
        if package_id is not None:
            package = self.settings.package(package_id)
            if package is None:
                raise PackageNotFound(f"No credit package {validation.quote(package_id)}.")
            return Quote(
                credits=package.credits,
                amount=package.amount,
                currency=package.currency,
                package_id=package.id,
                name=package.name,
                description=package.description,
            )
        assert credits is not None
        currency = self.settings.currency
        if credits <= 0:
            raise InvalidInput("credits must be a positive number.", field="credits")
        step = self.credits_step()
        if credits % step:
            raise InvalidInput(f"credits must be a multiple of {step}.", field="credits")
        amount = credits * 10 ** exponent(currency) // self.settings.credits_per_unit
        low, high = self.settings.min_payment_amount, self.settings.max_payment_amount
        if not low <= amount <= min(high, validation.STRIPE_MAX_AMOUNT):
            raise InvalidInput(
                f"{credits} credits cost {format_amount(amount, currency)}; a payment must be "
                f"between {format_amount(low, currency)} and {format_amount(high, currency)}.",
                field="credits",
            )
        return Quote(
            credits=credits,
            amount=amount,
            currency=currency,
            package_id=None,
            name=f"{credits} credits",
            description=f"{credits} credits for {format_amount(amount, currency)}",
        )

    async def checkout(self, user_id: str, request: CheckoutRequest) -> CheckoutOutcome:
        """Create (or, for a repeated idempotency key, return) a Checkout for credits.

        Our PENDING payment is committed before Stripe is called, and Stripe gets an
        idempotency key derived from it, so a retry after a Stripe failure or timeout finishes
        the same payment with one Checkout Session.
        """
        key = idempotency.check_key(request.idempotency_key)
        quote = self.quote(package_id=request.package_id, credits=request.credits)
        hosts = self.settings.checkout_allowed_hosts
        success_url = self.settings.default_success_url
        if request.success_url is not None:
            success_url = validation.redirect_url(
                request.success_url, field="successUrl", allowed_hosts=hosts
            )
        cancel_url = self.settings.default_cancel_url
        if request.cancel_url is not None:
            cancel_url = validation.redirect_url(
                request.cancel_url, field="cancelUrl", allowed_hosts=hosts
            )
        keyed = idempotency.Request(
            "checkout",
            user_id,
            key,
            idempotency.request_hash(
                {
                    "package_id": quote.package_id,
                    "credits": quote.credits,
                    "amount": quote.amount,
                    "currency": quote.currency,
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                }
            ),
        )
        payment = await self._payment_for_key(keyed, user_id, quote)
        if payment.stripe_checkout_session_id and payment.checkout_url:
            return CheckoutOutcome(
                payment, payment.checkout_url, payment.stripe_checkout_session_id
            )

        customer_id = await ensure_customer(self.db, self.gateway, user_id)
        checkout = await self.gateway.create_checkout_session(
            amount=payment.amount,
            currency=payment.currency,
            name=quote.name,
            description=quote.description or None,
            customer_id=customer_id,
            success_url=success_url,
            cancel_url=cancel_url,
            metadata={PAYMENT_ID_KEY: payment.id, "payments_user_id": user_id},
            client_reference_id=payment.id,
            idempotency_key=f"checkout-{payment.id}",
        )
        async with self.db.transaction() as session:
            stored = await payments.attach_checkout(
                session,
                payment.id,
                session_id=checkout.id,
                url=checkout.url,
                customer_id=customer_id,
            )
        return CheckoutOutcome(
            stored, stored.checkout_url or "", stored.stripe_checkout_session_id or checkout.id
        )

    async def _payment_for_key(
        self, keyed: idempotency.Request, user_id: str, quote: Quote
    ) -> Payment:
        async with self.db.transaction() as session:
            claim = await idempotency.get_or_claim(session, keyed, new_id=new_payment_id())
            if not claim.created:
                return await payments.lock(session, claim.resource_id)
            return await payments.add(
                session,
                Payment(
                    id=claim.resource_id,
                    user_id=user_id,
                    kind=PaymentKind.CREDIT_PURCHASE,
                    status=PaymentStatus.PENDING,
                    amount=quote.amount,
                    currency=quote.currency,
                    credits=quote.credits,
                    package_id=quote.package_id,
                    description=quote.description,
                ),
            )

    async def balance(self, user_id: str) -> int:
        async with self.db.read() as connection:
            return await ledger.balance(connection, user_id)

    async def consume(
        self, user_id: str, *, credits: int, reference: str, idempotency_key: str
    ) -> Consumption:
        """Spend credits: one CONSUMPTION entry; the same key returns the same entry. The
        balance never goes below zero: spending transactions of a user are serialized."""
        key = idempotency.check_key(idempotency_key)
        user_id = user_id.strip()
        if not user_id or len(user_id) > 128:
            raise InvalidInput("userId must be 1 to 128 characters.", field="userId")
        if credits <= 0:
            raise InvalidInput("credits must be a positive number.", field="credits")
        reference = validation.required_text(reference, "reference")
        keyed = idempotency.Request(
            "consume",
            user_id,
            key,
            idempotency.request_hash({"credits": credits, "ref": reference}),
        )
        async with self.db.transaction() as session:
            await ledger.lock_balance(session, user_id)
            entry = await ledger.add_consumption(
                session, user_id=user_id, credits=credits, reference=reference
            )
            claim = await idempotency.get_or_claim(session, keyed, new_id=str(entry.id))
            if not claim.created:  # the key spent already: answer with that entry
                await ledger.withdraw(session, entry)
                earlier = await ledger.entry(session, int(claim.resource_id))
                assert earlier is not None
                return Consumption(await ledger.balance(session, user_id), earlier)
            left = await ledger.balance(session, user_id)
            if left < 0:  # raising rolls back the entry and the key
                raise InsufficientCredits(
                    f"The user holds {left + credits} credits; {credits} cannot be spent."
                )
            outcome = Consumption(left, entry)
        for listener in self.consumption_listeners:
            listener(user_id)
        return outcome

    async def history(
        self, user_id: str, *, first: int, after: tuple[dt.datetime, int] | None
    ) -> HistoryPage:
        async with self.db.reading() as session:
            rows, has_next, total = await ledger.history(session, user_id, first=first, after=after)
        return HistoryPage(rows, has_next, total)

    async def verify_ledger(self) -> list[str]:
        return await invariants.verify(self.db)
