"""Per-request context: the services and who is calling (resolved lazily, once)."""

from __future__ import annotations

from functools import cached_property

from graphql import ASTValidationRule
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo
from strawberry.types.graphql import OperationType

from graphql_payments.auth import Principal, authenticate
from graphql_payments.errors import AccessDenied
from graphql_payments.graphql.cost import DEFAULT_MAX_COST, cost_rule
from graphql_payments.graphql.loaders import Loaders
from graphql_payments.ratelimit import RateLimiter
from graphql_payments.services import Services


def identify(request: Request, services: Services) -> Principal | AccessDenied | None:
    """The caller of `request`, None when anonymous, or why its credentials are refused."""
    try:
        return authenticate(request.headers, services.settings)
    except AccessDenied as exc:
        return exc


class Context:
    def __init__(
        self,
        request: Request,
        response: Response | None,
        services: Services,
        *,
        validation_rules: tuple[type[ASTValidationRule], ...] = (cost_rule(DEFAULT_MAX_COST),),
        limiter: RateLimiter | None = None,
    ) -> None:
        self.request = request
        self.response = response
        self.services = services
        self.loaders = Loaders(services.db)
        self.validation_rules = validation_rules
        self.operation_type: OperationType | None = None
        self.limiter = limiter

    @cached_property
    def caller_or_error(self) -> Principal | AccessDenied | None:
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
