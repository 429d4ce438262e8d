"""Domain exceptions.

Services raise these; the GraphQL layer turns each into a typed member of a mutation's result
union (`graphql_payments.graphql.errors`), and the webhook route into an HTTP status.

    PaymentsError                 base; `code` is one of ErrorCode
    ├── ValidationError           bad input; nothing was written
    ├── NotFoundError             an id, package or order that does not exist (or is not yours)
    ├── IdempotencyError          an idempotency key reused with a different input
    ├── InvalidStatusError        the payment is not in a status that allows the operation
    ├── AlreadyRefundedError      nothing is left to refund
    ├── InsufficientCreditsError  the customer no longer holds the credits an operation takes back
    └── PaymentProviderError      Stripe failed, timed out, or refused (code STRIPE_ERROR)
        └── CardDeclinedError     the card was declined (code CARD_DECLINED or INSUFFICIENT_FUNDS)
    AuthError                     who is calling; surfaces as a top-level GraphQL error
    ├── UnauthenticatedError      no or invalid credentials (code UNAUTHENTICATED)
    └── ForbiddenError            authenticated, but not allowed (code FORBIDDEN)
    WebhookSignatureError         a webhook whose signature does not verify
    ConfigurationError            settings that contradict each other; the server does not start
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


class ValidationError(PaymentsError):
    code = ErrorCode.VALIDATION_ERROR

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(PaymentsError):
    code = ErrorCode.NOT_FOUND


class IdempotencyError(PaymentsError):
    code = ErrorCode.IDEMPOTENCY_ERROR


class InvalidStatusError(PaymentsError):
    code = ErrorCode.INVALID_STATUS


class AlreadyRefundedError(PaymentsError):
    code = ErrorCode.ALREADY_REFUNDED


class InsufficientCreditsError(PaymentsError):
    code = ErrorCode.INSUFFICIENT_CREDITS


class PaymentProviderError(PaymentsError):
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


class CardDeclinedError(PaymentProviderError):
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


class AuthError(Exception):
    code = "UNAUTHENTICATED"


class UnauthenticatedError(AuthError):
    code = "UNAUTHENTICATED"


class ForbiddenError(AuthError):
    code = "FORBIDDEN"


class WebhookSignatureError(Exception):
    pass


class ConfigurationError(Exception):
    pass
