"""Who is calling: JWT bearer tokens, trusted callers with the shared secret, and roles."""

from graphql_payments.auth.principal import ADMIN, USER, Principal, authenticate

__all__ = ["ADMIN", "USER", "Principal", "authenticate"]
