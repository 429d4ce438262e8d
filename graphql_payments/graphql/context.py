"""Per-request context: the services and who is calling (resolved lazily, once)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from graphql import ASTValidationRule
from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo
from strawberry.types.graphql import OperationType

from graphql_payments.auth import Principal, authenticate
from graphql_payments.errors import AccessDenied
from graphql_payments.graphql.cost import DEFAULT_MAX_COST, cost_rule
from graphql_payments.graphql.loaders import Loaders
from graphql_payments.ratelimit import RateLimiter
from graphql_payments.services import Services


def identify(
    request: HTTPConnection, services: Services, headers: Mapping[str, str] | None = None
) -> Principal | AccessDenied | None:
    """The caller of `request` (or of these headers), None when anonymous, or why its
    credentials are refused."""
    try:
        return authenticate(request.headers if headers is None else headers, services.settings)
    except AccessDenied as exc:
        return exc


class Context:
    def __init__(
        self,
        request: HTTPConnection,
        response: Response | None,
        services: Services,
        *,
        validation_rules: tuple[type[ASTValidationRule], ...] = (cost_rule(DEFAULT_MAX_COST),),
        limiter: RateLimiter | None = None,
        caller: Principal | AccessDenied | None = None,
        known_caller: bool = False,
    ) -> None:
        """`caller` with `known_caller`: who is calling, already established (a Hasura Action
        names its caller in its body); otherwise read from the request's headers."""
        self.request = request
        self.response = response
        self.services = services
        self.validation_rules = validation_rules
        self.operation_type: OperationType | None = None
        self.limiter = limiter
        if known_caller:
            self.caller_or_error = caller
        # A WebSocket's `connection_init` payload (set by Strawberry before any operation).
        self.connection_params: Any = None

    @cached_property
    def loaders(self) -> Loaders:
        """This request's dataloaders, made when a field first needs one (most requests
        never do)."""
        return Loaders(self.services.db, self.services.payments)

    def connection_headers(self) -> Mapping[str, str] | None:
        """On a WebSocket, the headers `connection_init` carries over the request's:
        `{"Authorization": ...}` or `{"headers": {...}}`, as Apollo and Hasura send them."""
        params = self.connection_params
        if not isinstance(params, dict):
            return None
        nested = params.get("headers")
        given: dict[str, Any] = nested if isinstance(nested, dict) else params
        merged = {key.lower(): value for key, value in self.request.headers.items()}
        merged.update({str(k).lower(): v for k, v in given.items() if isinstance(v, str)})
        return merged

    @cached_property
    def caller_or_error(self) -> Principal | AccessDenied | None:
        headers = self.connection_headers()
        if headers is not None:
            return identify(self.request, self.services, headers)
        known = getattr(self.request.state, "caller", None)
        if known is not None:
            return known  # type: ignore[no-any-return]
        return identify(self.request, self.services)

    @property
    def caller(self) -> Principal | None:
        """The authenticated caller, None when anonymous; raises AccessDenied on bad credentials."""
        caller = self.caller_or_error
        if isinstance(caller, AccessDenied):
            raise caller
        return caller


Info = StrawberryInfo[Context, None]
