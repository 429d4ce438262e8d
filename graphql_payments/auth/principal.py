"""Turn request headers into a `Principal`.

Two ways in:

* `Authorization: Bearer <JWT>`: HS256 with `PAYMENTS_JWT_SECRET`, or RS256 with
  `PAYMENTS_JWT_PUBLIC_KEY`. The user id and role come from Hasura's claims namespace
  (`https://hasura.io/jwt/claims`) when present, else from `sub` (role `user`).
* `X-Payments-Secret` equal to `PAYMENTS_SHARED_SECRET` (trusted callers such as Hasura): only
  then are `x-hasura-user-id` and `x-hasura-role` read. Without the secret those headers are
  ignored, since any client can send them. Hasura Actions carry the same session variables in
  their body (`from_session`).

Role names map to our two roles through `PAYMENTS_ADMIN_ROLES` and `PAYMENTS_USER_ROLES`
(`admin` and `user` by default), so a Hasura project's own roles (`manager`, `customer`, ...)
work without renaming; `anonymous` is a caller without identity; any other role is refused.

No credentials at all is an anonymous caller (None). Credentials that are present but wrong
raise NotAuthenticated, never a silent downgrade to anonymous.
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from graphql_payments import validation
from graphql_payments.config import Settings
from graphql_payments.errors import NotAuthenticated, NotPermitted

HASURA_CLAIMS = "https://hasura.io/jwt/claims"
USER = "user"
ADMIN = "admin"
ANONYMOUS = "anonymous"
MAX_USER_ID_LENGTH = validation.MAX_USER_ID_LENGTH


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str | None
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def require_user_id(self) -> str:
        if self.user_id is None:
            raise NotPermitted("This operation needs a user id.")
        return self.user_id

    def acting_for(self, user_id: str | None) -> str:
        """The user an operation applies to: yourself, or anyone for an admin."""
        if user_id is None or user_id == self.user_id:
            return self.require_user_id()
        if not self.is_admin:
            raise NotPermitted("Only an admin may act for another user.")
        return validation.user_id(user_id)


def _role(value: Any, settings: Settings) -> str:
    """Our role (admin or user) for a role name from a token or Hasura header."""
    name = str(value or "").lower() or settings.user_roles[0]
    if name in settings.admin_roles:
        return ADMIN
    if name in settings.user_roles:
        return USER
    raise NotPermitted(f"Role {name[:100]!r} may not use this API.")


def _from_claims(
    claims: Mapping[str, Any], requested_role: str | None, settings: Settings
) -> Principal:
    hasura = claims.get(HASURA_CLAIMS)
    if isinstance(hasura, Mapping):
        user_id = hasura.get("x-hasura-user-id") or claims.get("sub")
        allowed_claim = hasura.get("x-hasura-allowed-roles")
        if not isinstance(allowed_claim, list):
            raise NotAuthenticated("The token's x-hasura-allowed-roles must be a list.")
        allowed = [str(r).lower() for r in allowed_claim]
        role = str(hasura.get("x-hasura-default-role") or "").lower()
        if not role or role not in allowed:
            # Hasura refuses such a token too: the default role must be an allowed role.
            raise NotAuthenticated(
                "The token's x-hasura-default-role is not one of its x-hasura-allowed-roles."
            )
        if requested_role:
            if requested_role.lower() not in allowed:
                raise NotPermitted(f"Role {requested_role[:100]!r} is not allowed for this token.")
            role = requested_role.lower()
    else:
        user_id = claims.get("sub")
        role = settings.user_roles[0]
    if not user_id:
        raise NotAuthenticated("The token names no user (sub or x-hasura-user-id).")
    return Principal(user_id=_user_id(user_id), role=_role(role, settings))


def _user_id(value: Any) -> str:
    user_id = str(value)
    if len(user_id) > MAX_USER_ID_LENGTH or "\x00" in user_id:
        raise NotAuthenticated(
            f"The user id is longer than {MAX_USER_ID_LENGTH} characters or holds a NUL byte."
        )
    return user_id


# Verified tokens, so a client's next requests skip the signature check until the token
# expires. Keyed by the token and every setting that decides its validity.
VERIFIED_TOKENS = 4096
_verified: OrderedDict[tuple[str | None, ...], dict[str, Any]] = OrderedDict()


def decode_token(token: str, settings: Settings) -> dict[str, Any]:
    """The claims of a valid bearer token; NotAuthenticated otherwise."""
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret is not None else None
    key = (token, secret, settings.jwt_public_key, settings.jwt_audience, settings.jwt_issuer)
    claims = _verified.get(key)
    if claims is not None and time.time() < claims["exp"]:
        _verified.move_to_end(key)
        return claims
    claims = _verify(token, settings)
    _verified[key] = claims
    if len(_verified) > VERIFIED_TOKENS:
        _verified.popitem(last=False)
    return claims


def _verify(token: str, settings: Settings) -> dict[str, Any]:
    keys: list[tuple[Any, str]] = []
    if settings.jwt_secret is not None:
        keys.append((settings.jwt_secret.get_secret_value(), "HS256"))
    if settings.jwt_public_key:
        keys.append((settings.jwt_public_key, "RS256"))
    if not keys:
        raise NotAuthenticated("Bearer tokens are not accepted: no JWT key is configured.")
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        raise NotAuthenticated("Malformed bearer token.") from None
    for key, alg in keys:
        if alg != algorithm:
            continue
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                options={
                    "require": ["exp"],
                    "verify_aud": settings.jwt_audience is not None,
                    "verify_iss": settings.jwt_issuer is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("The bearer token has expired.") from None
        except jwt.PyJWTError as exc:
            raise NotAuthenticated(f"Invalid bearer token: {exc}.") from None
        return claims
    raise NotAuthenticated(f"Bearer tokens signed with {algorithm!r} are not accepted.")


def shared_secret_matches(given: str, settings: Settings) -> bool:
    """Whether `given` is the shared secret (compared in constant time). Settings refuse an
    empty secret; an empty one here would still never match."""
    expected = settings.shared_secret.get_secret_value() if settings.shared_secret else ""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _trusted(headers: Mapping[str, str], settings: Settings) -> bool:
    given = headers.get("x-payments-secret")
    if given is None:
        return False
    if not shared_secret_matches(given, settings):
        raise NotAuthenticated("Invalid X-Payments-Secret.")
    return True


def from_session(variables: Mapping[str, Any], settings: Settings) -> Principal | None:
    """The caller a trusted service (Hasura) names in its session variables (`x-hasura-role`,
    `x-hasura-user-id`, any case); None for the anonymous role. Only for callers that proved
    the shared secret."""
    session = {str(name).lower(): value for name, value in variables.items()}
    if str(session.get("x-hasura-role") or "").lower() == ANONYMOUS:
        return None
    role = _role(session.get("x-hasura-role"), settings)
    raw_user_id = session.get("x-hasura-user-id")
    user_id = _user_id(raw_user_id) if raw_user_id else None
    if user_id is None and role != ADMIN:
        raise NotAuthenticated("A trusted call as a user needs x-hasura-user-id.")
    return Principal(user_id=user_id, role=role)


def authenticate(headers: Mapping[str, str], settings: Settings) -> Principal | None:
    """The caller of a request with these (lower-case) headers; None when anonymous."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("Authorization must be 'Bearer <token>'.")
        requested = headers.get("x-hasura-role") if _trusted(headers, settings) else None
        return _from_claims(decode_token(token.strip(), settings), requested, settings)
    if _trusted(headers, settings):
        return from_session(headers, settings)
    return None
