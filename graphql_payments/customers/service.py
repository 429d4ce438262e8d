"""Stripe customers and their saved cards.

One Stripe customer per user, created on first need and reused ever after. A card is saved
through a Checkout Session in setup mode (hosted page, or Stripe.js with the SetupIntent's
client secret); Stripe's webhooks (`payment_method.attached/.detached/.updated`,
`customer.updated`, `setup_intent.succeeded`, `checkout.session.completed` in setup mode) keep
our copy current, so listing cards never calls Stripe. The first card saved becomes the
customer's default (`invoice_settings.default_payment_method`), which autopay charges.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from graphql_payments import idempotency, validation
from graphql_payments.config import Settings
from graphql_payments.customers import repository
from graphql_payments.customers.models import SavedPaymentMethod
from graphql_payments.db import Database
from graphql_payments.errors import PaymentMethodNotFound, StripeFailed
from graphql_payments.gateway import (
    PaymentGateway,
    StripeCustomer,
    StripePaymentMethod,
    StripeSetupIntent,
)

log = logging.getLogger(__name__)

# Told the user whose usable cards changed (a card saved, made default or removed).
CardListener = Callable[[str], Awaitable[None]]


async def ensure_customer(db: Database, gateway: PaymentGateway, user_id: str) -> str:
    """The user's Stripe customer id, creating the customer when the user has none.

    Concurrent first calls send Stripe the same idempotency key, so they get the same customer.
    """
    async with db.read() as connection:
        existing = await repository.stripe_customer_id(connection, user_id)
    if existing is not None:
        return existing
    created = await gateway.create_customer(user_id=user_id, idempotency_key=f"customer-{user_id}")
    async with db.transaction() as session:
        return await repository.insert_if_absent(session, user_id=user_id, customer_id=created)


@dataclass(frozen=True, slots=True)
class CardSetup:
    setup_url: str
    client_secret: str | None
    session_id: str


class PaymentMethodService:
    def __init__(self, db: Database, gateway: PaymentGateway, settings: Settings) -> None:
        self.db = db
        self.gateway = gateway
        self.settings = settings
        self.listeners: list[CardListener] = []

    async def _changed(self, user_id: str) -> None:
        for listener in self.listeners:
            await listener(user_id)

    async def list(self, user_id: str) -> list[SavedPaymentMethod]:
        async with self.db.reading() as session:
            return await repository.methods_for(session, user_id)

    async def add(self, user_id: str, *, return_url: str, idempotency_key: str) -> CardSetup:
        """A hosted setup page (and SetupIntent client secret) to save a card; the same key
        returns the same page."""
        key = idempotency.check_key(idempotency_key)
        return_url = validation.redirect_url(
            return_url, field="returnUrl", allowed_hosts=self.settings.checkout_allowed_hosts
        )
        keyed = idempotency.Request(
            "add_payment_method", user_id, key, idempotency.request_hash({"return_url": return_url})
        )
        async with self.db.transaction() as session:
            claim = await idempotency.get_or_claim(
                session, keyed, new_id=f"setup_{uuid.uuid4().hex}"
            )
        found = claim.resource_id
        customer_id = await ensure_customer(self.db, self.gateway, user_id)
        setup = await self.gateway.create_setup_session(
            customer_id=customer_id,
            currency=self.settings.currency,
            success_url=return_url,
            cancel_url=return_url,
            metadata={"payments_user_id": user_id, "payments_setup_id": found},
            idempotency_key=found,
        )
        return CardSetup(setup.url or "", setup.client_secret, setup.id)

    async def _owned(self, user_id: str, payment_method_id: str) -> tuple[SavedPaymentMethod, str]:
        async with self.db.reading() as session:
            card = await repository.method(session, payment_method_id, user_id=user_id)
            customer_id = await repository.stripe_customer_id(session, user_id)
        if card is None or customer_id is None:
            raise PaymentMethodNotFound(f"No saved payment method {payment_method_id!r}.")
        return card, customer_id

    async def set_default(self, user_id: str, payment_method_id: str) -> SavedPaymentMethod:
        card, customer_id = await self._owned(user_id, payment_method_id)
        # Setting a default is idempotent in itself; a fresh key per call keeps Stripe from
        # replaying an older answer when a user switches back and forth.
        customer = await self.gateway.set_default_payment_method(
            customer_id, card.id, idempotency_key=f"default-{uuid.uuid4().hex}"
        )
        await self.apply_customer(customer)
        async with self.db.reading() as session:
            stored = await repository.method(session, card.id)
        assert stored is not None
        return stored

    async def remove(self, user_id: str, payment_method_id: str) -> SavedPaymentMethod:
        """Detach the card at Stripe; when it was the default, the newest other card (if any)
        becomes the default."""
        card, _ = await self._owned(user_id, payment_method_id)
        try:
            await self.gateway.detach_payment_method(card.id, idempotency_key=f"detach-{card.id}")
        except StripeFailed as exc:
            if exc.stripe_code != "payment_method_unexpected_state" and (
                "not attached" not in exc.message
            ):
                raise
        async with self.db.transaction() as session:
            await repository.mark_detached(session, card.id)
            remaining = await repository.methods_for(session, user_id)
            has_default = any(m.is_default for m in remaining)
        if card.is_default and remaining and not has_default:
            await self.set_default(user_id, remaining[-1].id)
        await self._changed(user_id)
        return card

    # -- what Stripe tells us ------------------------------------------------------------------

    async def apply_payment_method(self, method: StripePaymentMethod, *, detached: bool) -> bool:
        """A card attached, updated or detached; False when it is not one of our customers'."""
        async with self.db.transaction() as session:
            if detached:
                user_id = await repository.mark_detached(session, method.id)
                if user_id is None:
                    return False
            else:
                if method.customer_id is None:
                    return False
                found = await repository.user_for_customer(session, method.customer_id)
                if found is None:
                    return False
                user_id = found
                await repository.save_method(session, user_id=user_id, method=method)
        if not detached:
            await self._ensure_default(user_id, method)
        await self._changed(user_id)
        return True

    async def customer_updated(self, customer_id: str) -> bool:
        """`customer.updated`: events may arrive out of order, so the default card is read
        from Stripe as it is now rather than from the event; False when not ours."""
        async with self.db.reading() as session:
            if await repository.user_for_customer(session, customer_id) is None:
                return False
        return await self.apply_customer(await self.gateway.retrieve_customer(customer_id))

    async def apply_customer(self, customer: StripeCustomer) -> bool:
        """The customer's default card as Stripe holds it; False when the customer is not ours."""
        async with self.db.transaction() as session:
            user_id = await repository.user_for_customer(session, customer.id)
            if user_id is None:
                return False
            await repository.set_default(session, user_id, customer.default_payment_method_id)
        await self._changed(user_id)
        return True

    async def apply_setup_intent(self, intent: StripeSetupIntent) -> bool:
        """A SetupIntent succeeded: save its card (fetched when the event did not carry it)."""
        if intent.status != "succeeded" or intent.payment_method_id is None:
            return intent.customer_id is not None
        method = intent.payment_method
        if method is None:
            full = await self.gateway.retrieve_setup_intent(intent.id)
            method = full.payment_method
        if method is None:
            return False
        if method.customer_id is None and intent.customer_id is not None:
            log.info("setup intent %s: card %s not attached yet", intent.id, method.id)
            return True
        return await self.apply_payment_method(method, detached=False)

    async def apply_setup_session(self, setup_intent_id: str | None) -> bool:
        """A setup-mode Checkout Session completed."""
        if setup_intent_id is None:
            return False
        return await self.apply_setup_intent(
            await self.gateway.retrieve_setup_intent(setup_intent_id)
        )

    async def _ensure_default(self, user_id: str, method: StripePaymentMethod) -> None:
        """The first card a customer saves becomes their default."""
        async with self.db.reading() as session:
            default = await repository.default_method(session, user_id)
            customer_id = await repository.stripe_customer_id(session, user_id)
        if default is not None or customer_id is None or method.customer_id != customer_id:
            return
        current = await self.gateway.retrieve_customer(customer_id)
        if current.default_payment_method_id is None:
            digest = hashlib.sha256(method.id.encode()).hexdigest()[:16]
            current = await self.gateway.set_default_payment_method(
                customer_id, method.id, idempotency_key=f"first-default-{digest}"
            )
        async with self.db.transaction() as session:
            await repository.set_default(session, user_id, current.default_payment_method_id)
