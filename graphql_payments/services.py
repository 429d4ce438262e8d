"""The object graph of one running server: settings, database, gateway and services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphql_payments.config import Settings
from graphql_payments.credits.service import CreditService
from graphql_payments.db import Database
from graphql_payments.escrow.service import EscrowService
from graphql_payments.gateway import PaymentGateway, StripeGateway
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
    sandbox: Sandbox | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        db: Database,
        gateway: StripeGateway,
        sandbox: Sandbox | None = None,
    ) -> Services:
        port: PaymentGateway = gateway
        payments = PaymentService(db, port)
        refunds = RefundService(db, port, payments)
        return cls(
            settings=settings,
            db=db,
            gateway=gateway,
            payments=payments,
            credits=CreditService(db, port, settings),
            escrow=EscrowService(db, port, settings, payments, refunds),
            refunds=refunds,
            inbox=WebhookInbox(db, settings, EventHandlers(payments, refunds)),
            sandbox=sandbox,
        )

    async def aclose(self) -> None:
        await self.gateway.aclose()
        if self.sandbox is not None:
            await self.sandbox.aclose()
        await self.db.dispose()
