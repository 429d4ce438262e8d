"""Apps with settings changed for one test."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from graphql_payments.config import Settings
from graphql_payments.services import Services
from tests.helpers import app_http

AppClient = Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def app_client(settings: Settings) -> AppClient:
    """`async with app_client(max_query_cost=10) as http:` an app with these settings changed."""

    def client(
        client_host: str = "127.0.0.1", **changes: Any
    ) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        return app_http(settings.model_copy(update=changes), client_host)

    return client


def app_of(http: httpx.AsyncClient) -> Starlette:
    """The app an `app_client` client talks to."""
    transport: httpx.ASGITransport = http._transport  # type: ignore[assignment]
    return transport.app  # type: ignore[return-value]


def services_of(http: httpx.AsyncClient) -> Services:
    """The services of the app an `app_client` client talks to."""
    return app_of(http).state.services  # type: ignore[no-any-return]
