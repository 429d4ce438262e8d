"""Expected failures as data: the one place domain exceptions become GraphQL errors.

Every mutation returns a union of its success type and the error types below, all implementing
`UserError { code message }`. `ERROR_TYPES` registers, for each domain exception class, the
GraphQL type it becomes; a subclass maps like its nearest registered ancestor. Mutations are
declared with `mutation(...)` below, which adds the `UserErrors` field extension: a domain
exception raised by the resolver is returned as its union member, so resolvers hold no
try/except. An exception the union does not list is a bug and surfaces (masked) as a GraphQL
error. Top-level errors are otherwise only for authentication and permission (`client_error`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from graphql_payments import errors
from graphql_payments.errors import AccessDenied, ErrorCode

strawberry.enum(ErrorCode, description="What went wrong, for programs.")


@strawberry.interface(description="An expected failure: `code` for programs, `message` for people.")
class UserError:
    code: ErrorCode
    message: str

    @classmethod
    def of(cls, exc: errors.PaymentsError) -> UserError:
        return cls(code=exc.code, message=exc.message)


@strawberry.type(description="The input is invalid; nothing was changed.")
class ValidationError(UserError):
    field: str | None = strawberry.field(description="The input field at fault, if one is.")

    @classmethod
    def of(cls, exc: errors.PaymentsError) -> UserError:
        field = exc.field if isinstance(exc, errors.InvalidInput) else None
        return cls(code=exc.code, message=exc.message, field=field)


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

    @classmethod
    def of(cls, exc: errors.PaymentsError) -> UserError:
        failed = exc if isinstance(exc, errors.StripeFailed) else None
        return cls(
            code=exc.code,
            message=exc.message,
            decline_code=failed.decline_code if failed else None,
            stripe_code=failed.stripe_code if failed else None,
            retryable=failed is not None and failed.retryable,
        )


# Domain exception class -> GraphQL error type; a subclass maps like its nearest ancestor here.
ERROR_TYPES: dict[type[errors.PaymentsError], type[UserError]] = {
    errors.InvalidInput: ValidationError,
    errors.NotFound: NotFoundError,
    errors.IdempotencyKeyReused: IdempotencyError,
    errors.WrongPaymentStatus: InvalidStatusError,
    errors.NothingLeftToRefund: AlreadyRefundedError,
    errors.InsufficientCredits: InsufficientCreditsError,
    errors.StripeFailed: PaymentProviderError,
}


def user_error(exc: errors.PaymentsError) -> UserError:
    """The GraphQL error object for a domain exception (raises it again when unmapped)."""
    for klass in type(exc).__mro__:
        if issubclass(klass, errors.PaymentsError) and klass in ERROR_TYPES:
            return ERROR_TYPES[klass].of(exc)
    raise exc


class UserErrors(FieldExtension):
    """Return a domain exception raised by the resolver as its result-union member."""

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except errors.PaymentsError as exc:
            return user_error(exc)


def mutation(
    *,
    description: str,
    audit: str | None = None,
    audit_if: Callable[[Info, dict[str, Any]], bool] | None = None,
    admin: bool = False,
) -> Any:
    """`strawberry.mutation` for a mutation returning a result union: expected failures
    (domain exceptions) come back as the union's error members. With `audit`, each call (or
    each call `audit_if` accepts) leaves an audit record under that action name. `admin`: only
    admins may call it (`permissions.AdminOnly`, checked next to the resolver)."""
    extensions: list[FieldExtension] = [UserErrors()]
    if audit is not None:
        from graphql_payments.graphql.audit import Audited

        extensions = [Audited(audit, audit_if)]
    if admin:
        from graphql_payments.graphql.permissions import AdminOnly

        extensions.append(AdminOnly())
    return strawberry.mutation(description=description, extensions=extensions)


def client_error(message: str, code: str) -> GraphQLError:
    """A top-level error the client must see (auth, malformed arguments); never masked."""
    return GraphQLError(message, extensions={"code": code})


def auth_error(exc: AccessDenied) -> GraphQLError:
    return client_error(str(exc), exc.code)


def should_mask(error: GraphQLError) -> bool:
    """Mask every error that is not one we raised for the client on purpose."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)
