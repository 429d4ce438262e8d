"""Plain, typed views of the Stripe objects services read.

The gateway returns these instead of SDK objects, and webhook handlers build them from event
payloads with the same functions, so one parser serves both paths. Each is named `Stripe...`
so that it never shares a name with our own rows (`StripeRefund` vs `refunds.models.Refund`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The metadata key that carries our payment id on every Stripe object we create.
PAYMENT_ID_KEY = "payments_payment_id"
REFUND_ID_KEY = "payments_refund_id"
# Stripe moves funds only to a connected account with one of these capabilities active.
TRANSFER_CAPABILITIES = ("transfers", "crypto_transfers", "legacy_payments")


def _id(value: Any) -> str | None:
    """An id from a field that holds either an id or an expanded object."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        inner = value.get("id")
        return inner if isinstance(inner, str) else None
    return None


def _metadata(data: Mapping[str, Any]) -> dict[str, str]:
    raw = data.get("metadata") or {}
    return {str(k): str(v) for k, v in raw.items()}


@dataclass(frozen=True, slots=True)
class StripePaymentError:
    code: str | None
    decline_code: str | None
    message: str | None

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any] | None) -> StripePaymentError | None:
        if not data:
            return None
        return cls(
            code=data.get("code"),
            decline_code=data.get("decline_code"),
            message=data.get("message"),
        )


@dataclass(frozen=True, slots=True)
class StripeCharge:
    id: str
    payment_intent_id: str | None
    amount: int
    amount_captured: int
    # Stripe's meaning: includes the uncaptured remainder of a partial capture. Refunded totals
    # are counted from Refund objects, never from this.
    amount_refunded: int
    currency: str
    receipt_url: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    capture_before: int | None = None  # unix time an uncaptured authorization lapses

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> StripeCharge:
        card = (data.get("payment_method_details") or {}).get("card") or {}
        return cls(
            id=data["id"],
            payment_intent_id=_id(data.get("payment_intent")),
            amount=int(data.get("amount") or 0),
            amount_captured=int(data.get("amount_captured") or 0),
            amount_refunded=int(data.get("amount_refunded") or 0),
            currency=str(data.get("currency") or "").upper(),
            receipt_url=data.get("receipt_url"),
            metadata=_metadata(data),
            capture_before=card.get("capture_before"),
        )


@dataclass(frozen=True, slots=True)
class StripePaymentIntent:
    id: str
    status: str
    amount: int
    amount_received: int
    currency: str
    customer_id: str | None
    latest_charge_id: str | None
    last_error: StripePaymentError | None
    metadata: dict[str, str] = field(default_factory=dict)
    latest_charge: StripeCharge | None = None
    amount_capturable: int = 0
    capture_method: str = "automatic"
    cancellation_reason: str | None = None
    client_secret: str | None = None
    next_action_url: str | None = None

    @property
    def payment_id(self) -> str | None:
        return self.metadata.get(PAYMENT_ID_KEY)

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> StripePaymentIntent:
        charge = data.get("latest_charge")
        redirect = (data.get("next_action") or {}).get("redirect_to_url") or {}
        return cls(
            id=data["id"],
            status=data["status"],
            amount=int(data.get("amount") or 0),
            amount_received=int(data.get("amount_received") or 0),
            currency=str(data.get("currency") or "").upper(),
            customer_id=_id(data.get("customer")),
            latest_charge_id=_id(charge),
            last_error=StripePaymentError.from_stripe(data.get("last_payment_error")),
            metadata=_metadata(data),
            latest_charge=StripeCharge.from_stripe(charge) if isinstance(charge, Mapping) else None,
            amount_capturable=int(data.get("amount_capturable") or 0),
            capture_method=data.get("capture_method") or "automatic",
            cancellation_reason=data.get("cancellation_reason"),
            client_secret=data.get("client_secret"),
            next_action_url=redirect.get("url"),
        )


@dataclass(frozen=True, slots=True)
class StripeCheckoutSession:
    id: str
    url: str | None
    status: str | None  # open, complete, expired
    payment_status: str  # unpaid, paid, no_payment_required
    amount_total: int | None
    currency: str | None
    customer_id: str | None
    client_reference_id: str | None
    payment_intent_id: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    payment_intent: StripePaymentIntent | None = None

    @property
    def payment_id(self) -> str | None:
        return self.metadata.get(PAYMENT_ID_KEY) or self.client_reference_id

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> StripeCheckoutSession:
        intent = data.get("payment_intent")
        currency = data.get("currency")
        return cls(
            id=data["id"],
            url=data.get("url"),
            status=data.get("status"),
            payment_status=data.get("payment_status") or "unpaid",
            amount_total=data.get("amount_total"),
            currency=str(currency).upper() if currency else None,
            customer_id=_id(data.get("customer")),
            client_reference_id=data.get("client_reference_id"),
            payment_intent_id=_id(intent),
            metadata=_metadata(data),
            payment_intent=(
                StripePaymentIntent.from_stripe(intent) if isinstance(intent, Mapping) else None
            ),
        )


@dataclass(frozen=True, slots=True)
class StripePaymentMethod:
    """A saved card (other kinds keep only id, type and customer)."""

    id: str
    type: str
    customer_id: str | None
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    created: int | None = None

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> StripePaymentMethod:
        card = data.get("card") or {}
        details = card or data.get(str(data.get("type"))) or {}
        return cls(
            id=data["id"],
            type=str(data.get("type") or "card"),
            customer_id=_id(data.get("customer")),
            brand=card.get("display_brand") or card.get("brand"),
            last4=details.get("last4"),
            exp_month=card.get("exp_month"),
            exp_year=card.get("exp_year"),
            created=data.get("created"),
        )


@dataclass(frozen=True, slots=True)
class StripeSetupIntent:
    id: str
    status: str
    customer_id: str | None
    payment_method_id: str | None
    client_secret: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    payment_method: StripePaymentMethod | None = None

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> StripeSetupIntent:
        method = data.get("payment_method")
        return cls(
            id=data["id"],
            status=data["status"],
            customer_id=_id(data.get("customer")),
            payment_method_id=_id(method),
            client_secret=data.get("client_secret"),
            metadata=_metadata(data),
            payment_method=(
                StripePaymentMethod.from_stripe(method) if isinstance(method, Mapping) else None
            ),
        )


@dataclass(frozen=True, slots=True)
class StripeSetupSession:
    """A Checkout Session in setup mode: the hosted page and its StripeSetupIntent."""

    id: str
    url: str | None
    status: str | None
    customer_id: str | None
    setup_intent_id: str | None
    client_secret: str | None
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> StripeSetupSession:
        intent = data.get("setup_intent")
        return cls(
            id=data["id"],
            url=data.get("url"),
            status=data.get("status"),
            customer_id=_id(data.get("customer")),
            setup_intent_id=_id(intent),
            client_secret=intent.get("client_secret") if isinstance(intent, Mapping) else None,
            metadata=_metadata(data),
        )


@dataclass(frozen=True, slots=True)
class StripeCustomer:
    id: str
    default_payment_method_id: str | None
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> StripeCustomer:
        settings = data.get("invoice_settings") or {}
        return cls(
            id=data["id"],
            default_payment_method_id=_id(settings.get("default_payment_method")),
            metadata=_metadata(data),
        )


@dataclass(frozen=True, slots=True)
class StripeAccount:
    id: str
    capabilities: dict[str, str] = field(default_factory=dict)

    @property
    def can_receive_transfers(self) -> bool:
        return any(self.capabilities.get(name) == "active" for name in TRANSFER_CAPABILITIES)

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> StripeAccount:
        raw = data.get("capabilities") or {}
        return cls(id=data["id"], capabilities={str(k): str(v) for k, v in raw.items()})


@dataclass(frozen=True, slots=True)
class StripeTransfer:
    id: str
    amount: int
    amount_reversed: int
    currency: str
    destination: str | None
    transfer_group: str | None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def payment_id(self) -> str | None:
        return self.metadata.get(PAYMENT_ID_KEY)

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> StripeTransfer:
        return cls(
            id=data["id"],
            amount=int(data.get("amount") or 0),
            amount_reversed=int(data.get("amount_reversed") or 0),
            currency=str(data.get("currency") or "").upper(),
            destination=_id(data.get("destination")),
            transfer_group=data.get("transfer_group"),
            metadata=_metadata(data),
        )


@dataclass(frozen=True, slots=True)
class StripeRefund:
    id: str
    amount: int
    currency: str
    status: str  # pending, requires_action, succeeded, failed, canceled
    reason: str | None
    payment_intent_id: str | None
    charge_id: str | None
    failure_reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def refund_id(self) -> str | None:
        """Our refund record's id, for refunds this server asked for."""
        return self.metadata.get(REFUND_ID_KEY)

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> StripeRefund:
        return cls(
            id=data["id"],
            amount=int(data.get("amount") or 0),
            currency=str(data.get("currency") or "").upper(),
            status=data.get("status") or "pending",
            reason=data.get("reason"),
            payment_intent_id=_id(data.get("payment_intent")),
            charge_id=_id(data.get("charge")),
            failure_reason=data.get("failure_reason"),
            metadata=_metadata(data),
        )


@dataclass(frozen=True, slots=True)
class StripeDispute:
    id: str
    amount: int
    currency: str
    status: str  # warning_needs_response, needs_response, under_review, won, lost, ...
    reason: str | None
    charge_id: str | None
    payment_intent_id: str | None

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> StripeDispute:
        return cls(
            id=data["id"],
            amount=int(data.get("amount") or 0),
            currency=str(data.get("currency") or "").upper(),
            status=data.get("status") or "needs_response",
            reason=data.get("reason"),
            charge_id=_id(data.get("charge")),
            payment_intent_id=_id(data.get("payment_intent")),
        )
