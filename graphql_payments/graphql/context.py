"""Per-request context: the services and who is calling (resolved lazily, once)."""

from __future__ import annotations

from functools import cached_property

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from graphql_payments.auth import Principal, authenticate
from graphql_payments.errors import AccessDenied
from graphql_payments.graphql.loaders import Loaders
from graphql_payments.services import Services


class Context:
    def __init__(self, request: Request, response: Response | None, services: Services) -> None:
        self.request = request
        self.response = response
        self.services = services
        self.loaders = Loaders(services.db)

    @cached_property
    def _caller(self) -> Principal | AccessDenied | None:
        try:
            return authenticate(self.request.headers, self.services.settings)
        except AccessDenied as exc:
            return exc

    @property
    def caller(self) -> Principal | None:
        """The authenticated caller, None when anonymous; raises AccessDenied on bad credentials."""
        caller = self._caller
        if isinstance(caller, AccessDenied):
            raise caller
        return caller


Info = StrawberryInfo[Context, None]
