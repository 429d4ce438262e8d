"""Every table, imported in one place so metadata and migrations see them all."""

from graphql_payments.autopay.models import Autopay, AutopayPeriod
from graphql_payments.customers.models import Customer, SavedPaymentMethod
from graphql_payments.db import Base
from graphql_payments.events.models import (
    EventDelivery,
    EventSequence,
    OutboxEvent,
    WebhookEndpoint,
)
from graphql_payments.idempotency import IdempotencyKey
from graphql_payments.ledger.models import CreditBalance, CreditEntry
from graphql_payments.operations.models import AuditRecord, RepairClaim, SweepState
from graphql_payments.payments.models import Payment, PaymentFailure
from graphql_payments.refunds.models import Dispute, Refund
from graphql_payments.webhooks.models import WebhookEvent

metadata = Base.metadata

__all__ = [
    "AuditRecord",
    "Autopay",
    "AutopayPeriod",
    "CreditBalance",
    "CreditEntry",
    "Customer",
    "Dispute",
    "EventDelivery",
    "EventSequence",
    "IdempotencyKey",
    "OutboxEvent",
    "Payment",
    "PaymentFailure",
    "Refund",
    "RepairClaim",
    "SavedPaymentMethod",
    "SweepState",
    "WebhookEndpoint",
    "WebhookEvent",
    "metadata",
]
