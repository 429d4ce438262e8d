"""Expected failures as data.

Every mutation returns a union of its success type and the error types below, all implementing
`UserError { code message }`. `user_error` turns a domain exception into the member of that
union; an exception the union does not list is a bug and surfaces (masked) as a GraphQL error.
Top-level errors are otherwise only for authentication and permission (`client_error`).
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from graphql_payments import errors
from graphql_payments.errors import AuthError, ErrorCode

strawberry.enum(ErrorCode, description="What went wrong, for programs.")


@strawberry.interface(description="An expected failure: `code` for programs, `message` for people.")
class UserError:
    code: ErrorCode
    message: str


@strawberry.type(description="The input is invalid; nothing was changed.")
class ValidationError(UserError):
    field: str | None = strawberry.field(description="The input field at fault, if one is.")


@strawberry.type(description="What the input refers to does not exist, or is not yours.")
class NotFoundError(UserError):
    pass


@strawberry.type(description="The idempotency key was used before with a different input.")
class IdempotencyError(UserError):
    pass


@strawberry.type(description="The payment is not in a status that allows this operation.")
class InvalidStatusError(UserError):
    pass


@strawberry.type(description="Nothing is left to refund on this payment.")
class AlreadyRefundedError(UserError):
    pass


@strawberry.type(
    description=(
        "The customer no longer holds the credits this refund would take back; an admin may "
        "pass force: true to refund anyway and leave a negative balance."
    )
)
class InsufficientCreditsError(UserError):
    pass


@strawberry.type(
    description=(
        "Stripe refused or failed: a declined card (CARD_DECLINED, INSUFFICIENT_FUNDS) or an "
        "outage (STRIPE_ERROR; retry with the same idempotency key)."
    )
)
class PaymentProviderError(UserError):
    decline_code: str | None = strawberry.field(description="Stripe's decline code, if any.")
    stripe_code: str | None = strawberry.field(description="Stripe's error code, if any.")
    retryable: bool = strawberry.field(description="Whether the same request may succeed later.")


_TYPES: list[tuple[type[errors.PaymentsError], type[Any]]] = [
    (errors.ValidationError, ValidationError),
    (errors.NotFoundError, NotFoundError),
    (errors.IdempotencyError, IdempotencyError),
    (errors.InvalidStatusError, InvalidStatusError),
    (errors.AlreadyRefundedError, AlreadyRefundedError),
    (errors.InsufficientCreditsError, InsufficientCreditsError),
    (errors.PaymentProviderError, PaymentProviderError),
]


def user_error(exc: errors.PaymentsError) -> Any:
    """The GraphQL error object for a domain exception (raises it again when unmapped)."""
    fields: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if isinstance(exc, errors.ValidationError):
        return ValidationError(**fields, field=exc.field)
    if isinstance(exc, errors.PaymentProviderError):
        return PaymentProviderError(
            **fields,
            decline_code=exc.decline_code,
            stripe_code=exc.stripe_code,
            retryable=exc.retryable,
        )
    for exc_type, gql_type in _TYPES:
        if isinstance(exc, exc_type):
            return gql_type(**fields)
    raise exc


def client_error(message: str, code: str) -> GraphQLError:
    """A top-level error the client must see (auth, malformed arguments); never masked."""
    return GraphQLError(message, extensions={"code": code})


def auth_error(exc: AuthError) -> GraphQLError:
    return client_error(str(exc), exc.code)


def should_mask(error: GraphQLError) -> bool:
    """Mask every error that is not one we raised for the client on purpose."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)
