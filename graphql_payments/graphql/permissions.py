"""Who may call what. Failures are top-level errors: UNAUTHENTICATED or FORBIDDEN."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField

from graphql_payments.auth import Principal
from graphql_payments.errors import AccessDenied, NotAuthenticated, NotPermitted
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import auth_error


def caller(info: Info) -> Principal | None:
    """The caller, None when anonymous; bad credentials are an UNAUTHENTICATED error."""
    try:
        return info.context.caller
    except AccessDenied as exc:
        raise auth_error(exc) from None


def viewer(info: Info) -> Principal:
    """The authenticated caller (a user or an admin)."""
    try:
        caller = info.context.caller
        if caller is None:
            raise NotAuthenticated("Sign in: this field needs a bearer token or trusted call.")
    except AccessDenied as exc:
        raise auth_error(exc) from None
    return caller


def user_id(info: Info) -> str:
    """The caller's user id (FORBIDDEN for a caller without one, such as a service admin)."""
    try:
        return viewer(info).require_user_id()
    except AccessDenied as exc:
        raise auth_error(exc) from None


def admin(info: Info) -> Principal:
    caller = viewer(info)
    if not caller.is_admin:
        raise auth_error(NotPermitted("Only an admin may do this."))
    return caller


def acting_for(info: Info, user_id: str | None) -> str:
    """The user an operation applies to: the caller, or anyone when an admin asks."""
    try:
        return viewer(info).acting_for(user_id)
    except AccessDenied as exc:
        raise auth_error(exc) from None


class AdminOnly(FieldExtension):
    """A field only admins may use: checked before the resolver runs (FORBIDDEN otherwise).

    Declared on the field (`extensions=[AdminOnly()]`, or `mutation(..., admin=True)`), so
    what only admins may call is known from the schema itself: the Hasura metadata hides these
    fields from user roles.
    """

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        admin(info)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        admin(info)
        return await next_(source, info, **kwargs)


def is_admin_only(field: StrawberryField | None) -> bool:
    return field is not None and any(isinstance(e, AdminOnly) for e in field.extensions)
