"""Who may call what. Failures are top-level errors: UNAUTHENTICATED or FORBIDDEN."""

from __future__ import annotations

from graphql_payments.auth import Principal
from graphql_payments.errors import AccessDenied, NotAuthenticated, NotPermitted
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import auth_error


def viewer(info: Info) -> Principal:
    """The authenticated caller (a user or an admin)."""
    try:
        caller = info.context.caller
        if caller is None:
            raise NotAuthenticated("Sign in: this field needs a bearer token or trusted call.")
    except AccessDenied as exc:
        raise auth_error(exc) from None
    return caller


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
