"""The event catalogue: every event this server publishes, its payload and its JSON Schema.

A message (webhook body, broker message) is the Standard Webhooks envelope
`{"type": <event name>, "timestamp": <ISO 8601>, "data": {...}}`. `data` always carries
`eventId` (stable across retries: deduplicate on it), `sequence` (1, 2, 3... per `subject`:
order on it), `subject` (the payment id, or `user:<id>` for events about a user only),
`paymentId`, `userId` and `occurredAt`, plus the fields of its event below. `schemas/events/`
holds the JSON Schema of each (`graphql-payments export-event-schemas`; a test keeps them
current).
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any


class EventType(enum.Enum):
    PAYMENT_CREATED = "payment.created"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_EXPIRED = "payment.expired"
    PAYMENT_REFUNDED = "payment.refunded"
    PAYMENT_DISPUTED = "payment.disputed"
    DISPUTE_CLOSED = "dispute.closed"
    ESCROW_AUTHORIZED = "escrow.authorized"
    ESCROW_RELEASED = "escrow.released"
    ESCROW_REVERTED = "escrow.reverted"
    ESCROW_EXPIRED = "escrow.expired"
    CREDITS_GRANTED = "credits.granted"
    CREDITS_CONSUMED = "credits.consumed"
    CREDITS_REVOKED = "credits.revoked"
    AUTOPAY_CHARGED = "autopay.charged"
    AUTOPAY_FAILED = "autopay.failed"
    AUTOPAY_PAUSED = "autopay.paused"


DESCRIPTIONS: dict[EventType, str] = {
    EventType.PAYMENT_CREATED: "A payment (credit purchase or escrow) was created, PENDING.",
    EventType.PAYMENT_SUCCEEDED: "A credit purchase was paid.",
    EventType.PAYMENT_FAILED: "A payment failed (declined card, failed delayed payment).",
    EventType.PAYMENT_EXPIRED: "A checkout expired before the customer paid.",
    EventType.PAYMENT_REFUNDED: "Money went back to the customer (partial or full refund).",
    EventType.PAYMENT_DISPUTED: "The customer's bank opened a dispute (chargeback).",
    EventType.DISPUTE_CLOSED: "A dispute was closed: won (money kept) or lost.",
    EventType.ESCROW_AUTHORIZED: "An escrow hold was placed on the customer's card.",
    EventType.ESCROW_RELEASED: "An escrow was captured and paid out to the runner.",
    EventType.ESCROW_REVERTED: "An escrow was canceled, or refunded and its transfer reversed.",
    EventType.ESCROW_EXPIRED: "An escrow hold lapsed before it was released.",
    EventType.CREDITS_GRANTED: "Credits were added to a balance (purchase, restored, dispute won).",
    EventType.CREDITS_CONSUMED: "Credits were spent.",
    EventType.CREDITS_REVOKED: "Credits were taken back (refund, dispute hold).",
    EventType.AUTOPAY_CHARGED: "An automatic top-up charged a saved card.",
    EventType.AUTOPAY_FAILED: "An automatic top-up failed.",
    EventType.AUTOPAY_PAUSED: "Automatic top-ups were paused after failures.",
}

_MONEY = {"type": "integer", "description": "Minor units of `currency` (cents; yen for JPY)."}
_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}

PAYMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The payment after the change.",
    "required": ["id", "kind", "status", "amount", "currency", "refundedAmount", "userId"],
    "properties": {
        "id": {"type": "string"},
        "userId": {"type": "string"},
        "kind": {"enum": ["CREDIT_PURCHASE", "ESCROW", "AUTOPAY"]},
        "status": {"type": "string"},
        "amount": _MONEY,
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "refundedAmount": _MONEY,
        "credits": _NULLABLE_INT,
        "packageId": _NULLABLE_STRING,
        "orderId": _NULLABLE_STRING,
        "runnerId": _NULLABLE_STRING,
        "autopayId": _NULLABLE_STRING,
        "capturedAmount": _NULLABLE_INT,
        "platformFee": _NULLABLE_INT,
        "failureCode": _NULLABLE_STRING,
        "declineCode": _NULLABLE_STRING,
        "failureMessage": _NULLABLE_STRING,
    },
}
REFUND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["amount", "refundedAmount", "currency"],
    "properties": {
        "amount": {**_MONEY, "description": "Refunded by this change."},
        "refundedAmount": {**_MONEY, "description": "Refunded in all, so far."},
        "currency": {"type": "string"},
    },
}
DISPUTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "status", "amount", "currency"],
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string", "description": "Stripe's: won, lost, warning_closed..."},
        "amount": _MONEY,
        "currency": {"type": "string"},
        "reason": _NULLABLE_STRING,
    },
}
AUTOPAY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "status", "pausedReason", "failureCount"],
    "properties": {
        "id": {"type": "string"},
        "status": {"enum": ["ACTIVE", "PAST_DUE", "PAUSED", "DISABLED"]},
        "pausedReason": {
            "enum": ["PAYMENT_FAILED", "AUTHENTICATION_REQUIRED", "NO_PAYMENT_METHOD", None]
        },
        "failureCount": {"type": "integer"},
        "lastPaymentId": _NULLABLE_STRING,
    },
}
CREDITS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["delta", "reason"],
    "properties": {
        "delta": {"type": "integer", "description": "Credits added (> 0) or removed (< 0)."},
        "reason": {"type": "string", "description": "The ledger reason (PURCHASE, REFUND...)."},
        "reference": {"type": "string"},
    },
}

# The fields each event carries beside the common ones.
FIELDS: dict[EventType, dict[str, Any]] = {
    **{
        kind: {"payment": PAYMENT_SCHEMA}
        for kind in (
            EventType.PAYMENT_CREATED,
            EventType.PAYMENT_SUCCEEDED,
            EventType.PAYMENT_FAILED,
            EventType.PAYMENT_EXPIRED,
            EventType.PAYMENT_DISPUTED,
            EventType.ESCROW_AUTHORIZED,
            EventType.ESCROW_RELEASED,
            EventType.ESCROW_REVERTED,
            EventType.ESCROW_EXPIRED,
            EventType.AUTOPAY_CHARGED,
            EventType.AUTOPAY_FAILED,
        )
    },
    EventType.AUTOPAY_PAUSED: {"autopay": AUTOPAY_SCHEMA},
    EventType.PAYMENT_REFUNDED: {"payment": PAYMENT_SCHEMA, "refund": REFUND_SCHEMA},
    EventType.DISPUTE_CLOSED: {"payment": PAYMENT_SCHEMA, "dispute": DISPUTE_SCHEMA},
    EventType.CREDITS_GRANTED: {"credits": CREDITS_SCHEMA},
    EventType.CREDITS_CONSUMED: {"credits": CREDITS_SCHEMA},
    EventType.CREDITS_REVOKED: {"credits": CREDITS_SCHEMA},
}
_PAYMENT_OPTIONAL: set[EventType] = set()


def schema(kind: EventType) -> dict[str, Any]:
    """The JSON Schema of the message (envelope and `data`) of one event type."""
    fields = FIELDS[kind]
    required = ["eventId", "sequence", "subject", "paymentId", "userId", "occurredAt"]
    required += [name for name in fields if name != "payment" or kind not in _PAYMENT_OPTIONAL]
    data = {
        "type": "object",
        "required": required,
        "properties": {
            "eventId": {"type": "string", "description": "Stable id: deduplicate on it."},
            "sequence": {
                "type": "integer",
                "minimum": 1,
                "description": "1, 2, 3... per subject: order a subject's events on it.",
            },
            "subject": {"type": "string", "description": "The payment id, or user:<id>."},
            "paymentId": _NULLABLE_STRING,
            "userId": _NULLABLE_STRING,
            "occurredAt": {"type": "string", "format": "date-time"},
            **fields,
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://graphql-payments.dev/schemas/events/{kind.value}.json",
        "title": kind.value,
        "description": DESCRIPTIONS[kind],
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"const": kind.value},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": data,
        },
    }


def export(directory: Path) -> list[Path]:
    """Write one `<event name>.json` per event type into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in EventType:
        path = directory / f"{kind.value}.json"
        path.write_text(json.dumps(schema(kind), indent=2) + "\n")
        written.append(path)
    return written
