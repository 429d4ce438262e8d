"""The object graph of one running server: settings, database, gateway and services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphql_payments.autopay.service import AutopayService
from graphql_payments.clock import Clock, RemoteSandboxClock, SandboxClock, SystemClock
from graphql_payments.config import Settings
from graphql_payments.credits.service import CreditService
from graphql_payments.customers.service import PaymentMethodService
from graphql_payments.db import Database
from graphql_payments.escrow.service import EscrowService
from graphql_payments.events import recorder
from graphql_payments.events.feed import PaymentFeed
from graphql_payments.events.relay import Relay
from graphql_payments.events.service import EventService
from graphql_payments.gateway import PaymentGateway, StripeGateway
from graphql_payments.operations.audit import AuditTrail
from graphql_payments.operations.reconcile import Reconciler
from graphql_payments.payments.service import PaymentService
from graphql_payments.refunds.service import RefundService
from graphql_payments.webhooks.handlers import EventHandlers
from graphql_payments.webhooks.service import WebhookInbox

if TYPE_CHECKING:
    # A type only: the app factory builds the sandbox and hands it in.
    from graphql_payments.sandbox import Sandbox  # noqa: TID251


@dataclass
class Services:
    settings: Settings
    db: Database
    gateway: StripeGateway
    payments: PaymentService
    credits: CreditService
    escrow: EscrowService
    refunds: RefundService
    inbox: WebhookInbox
    payment_methods: PaymentMethodService
    autopay: AutopayService
    clock: Clock
    reconciler: Reconciler
    audit: AuditTrail
    relay: Relay
    events: EventService
    feed: PaymentFeed
    sandbox: Sandbox | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        db: Database,
        gateway: StripeGateway,
        sandbox: Sandbox | None = None,
        clock: Clock | None = None,
    ) -> Services:
        port: PaymentGateway = gateway
        payments = PaymentService(db, port)
        refunds = RefundService(db, port, payments)
        credits = CreditService(db, port, settings)
        clock = clock or _clock(settings, sandbox)
        payment_methods = PaymentMethodService(db, port, settings)
        autopay = AutopayService(
            db, port, settings, credits=credits, payments=payments, clock=clock
        )
        payment_methods.listeners.append(autopay.cards_changed)
        credits.consumption_listeners.append(autopay.nudge)
        escrow = EscrowService(db, port, settings, payments, refunds)
        inbox = WebhookInbox(
            db, settings, EventHandlers(payments, refunds, payment_methods, autopay)
        )
        recorder.install()
        relay = Relay(db, settings)
        return cls(
            settings=settings,
            db=db,
            gateway=gateway,
            payments=payments,
            credits=credits,
            escrow=escrow,
            refunds=refunds,
            inbox=inbox,
            payment_methods=payment_methods,
            autopay=autopay,
            clock=clock,
            reconciler=Reconciler(
                db=db,
                gateway=port,
                settings=settings,
                payments=payments,
                escrow=escrow,
                refunds=refunds,
                inbox=inbox,
            ),
            audit=AuditTrail(db),
            relay=relay,
            events=EventService(db, settings, relay),
            feed=PaymentFeed(db),
            sandbox=sandbox,
        )

    async def aclose(self) -> None:
        await self.feed.aclose()
        await self.relay.aclose()
        await self.autopay.aclose()
        await self.gateway.aclose()
        if self.sandbox is not None:
            await self.sandbox.aclose()
        await self.db.dispose()


def _clock(settings: Settings, sandbox: Sandbox | None) -> Clock:
    """The sandbox's clock in sandbox mode (in this process or behind STRIPE_API_BASE)."""
    if sandbox is not None:
        return SandboxClock(sandbox.clock.now)
    if settings.stripe_api_base and settings.stripe_key.startswith(("sk_test_", "rk_test_")):
        return RemoteSandboxClock(settings.stripe_api_base)
    return SystemClock()
