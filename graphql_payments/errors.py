"""Domain exceptions, named after the condition they report.

Services raise these; `graphql_payments.graphql.errors` maps each (by its nearest registered
class) to the member of a mutation's result union, whose GraphQL type keeps the `...Error` name
(`InvalidInput` -> `ValidationError`); the webhook route turns a bad signature into HTTP 400.

    PaymentsError                     base; `code` is one of ErrorCode, `message` is for people
    ├── InvalidInput                  bad input (`field` names it); nothing was written
    │   └── RefundExceedsCaptured     a refund amount above what is left of the capture
    ├── NotFound                      something that does not exist (or is not yours)
    │   ├── PaymentNotFound           no such payment
    │   ├── PackageNotFound           no such credit package
    │   ├── OrderNotFound             no escrow payment for the order
    │   ├── PaymentMethodNotFound     no such saved card of the user's
    │   ├── AutopayNotFound           the user has no autopay
    │   ├── WebhookEndpointNotFound   no such webhook endpoint
    │   └── DeliveryNotFound          no such event delivery
    ├── IdempotencyKeyReused          an idempotency key reused with a different input
    ├── WrongPaymentStatus            the payment's status does not allow the operation
    ├── NothingLeftToRefund           the payment is refunded in full already
    ├── InsufficientCredits           the customer no longer holds the credits to take back
    └── StripeFailed                  Stripe failed, timed out or refused (code STRIPE_ERROR)
        └── CardDeclined              the card was declined (CARD_DECLINED, INSUFFICIENT_FUNDS)
    AccessDenied                      who is calling; surfaces as a top-level GraphQL error
    ├── NotAuthenticated              no or invalid credentials (code UNAUTHENTICATED)
    └── NotPermitted                  authenticated, but not allowed (code FORBIDDEN)
    WebhookSignatureInvalid           a webhook whose signature does not verify
    SettingsConflict                  settings that contradict each other or do not work (no
                                      database, one not migrated or unreachable, a missing
                                      driver); the command says what to do and exits with 2

A new expected failure: subclass the closest class here (it maps like its parent), or register
a new GraphQL type for it in `graphql_payments.graphql.errors.ERROR_TYPES`.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.Enum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    IDEMPOTENCY_ERROR = "IDEMPOTENCY_ERROR"
    STRIPE_ERROR = "STRIPE_ERROR"
    CARD_DECLINED = "CARD_DECLINED"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    INVALID_STATUS = "INVALID_STATUS"
    ALREADY_REFUNDED = "ALREADY_REFUNDED"
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"


class PaymentsError(Exception):
    code: ErrorCode = ErrorCode.VALIDATION_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(PaymentsError):
    code = ErrorCode.VALIDATION_ERROR

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RefundExceedsCaptured(InvalidInput):
    def __init__(self, left: int) -> None:
        super().__init__(
            f"amount is more than the {left} left to refund on this payment.", field="amount"
        )
        self.left = left


class NotFound(PaymentsError):
    code = ErrorCode.NOT_FOUND


class PaymentNotFound(NotFound):
    pass


class WebhookEndpointNotFound(NotFound):
    pass


class DeliveryNotFound(NotFound):
    pass


class PackageNotFound(NotFound):
    pass


class OrderNotFound(NotFound):
    pass


class PaymentMethodNotFound(NotFound):
    pass


class AutopayNotFound(NotFound):
    pass


class IdempotencyKeyReused(PaymentsError):
    code = ErrorCode.IDEMPOTENCY_ERROR


class WrongPaymentStatus(PaymentsError):
    code = ErrorCode.INVALID_STATUS


class NothingLeftToRefund(PaymentsError):
    code = ErrorCode.ALREADY_REFUNDED


class InsufficientCredits(PaymentsError):
    code = ErrorCode.INSUFFICIENT_CREDITS


class StripeFailed(PaymentsError):
    """Stripe could not do what we asked. `retryable` says whether the same call may succeed."""

    code = ErrorCode.STRIPE_ERROR

    def __init__(
        self,
        message: str,
        *,
        stripe_code: str | None = None,
        decline_code: str | None = None,
        retryable: bool = False,
        payment_intent_id: str | None = None,
        charge_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.stripe_code = stripe_code
        self.decline_code = decline_code
        self.retryable = retryable
        self.payment_intent_id = payment_intent_id
        self.charge_id = charge_id


class CardDeclined(StripeFailed):
    code = ErrorCode.CARD_DECLINED

    def __init__(
        self,
        message: str,
        *,
        stripe_code: str | None = None,
        decline_code: str | None = None,
        payment_intent_id: str | None = None,
        charge_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            stripe_code=stripe_code,
            decline_code=decline_code,
            payment_intent_id=payment_intent_id,
            charge_id=charge_id,
        )
        if decline_code == "insufficient_funds":
            self.code = ErrorCode.INSUFFICIENT_FUNDS


class AccessDenied(Exception):
    code = "UNAUTHENTICATED"


class NotAuthenticated(AccessDenied):
    code = "UNAUTHENTICATED"


class NotPermitted(AccessDenied):
    code = "FORBIDDEN"


class WebhookSignatureInvalid(Exception):
    pass


class SettingsConflict(Exception):
    pass
