"""Fixtures: the app on a fresh database (a SQLite file, and PostgreSQL when
PAYMENTS_TEST_POSTGRES_URL is set) with the Stripe sandbox behind the real `stripe` SDK."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

from graphql_payments.app import create_app
from graphql_payments.config import Settings
from graphql_payments.migrations import upgrade
from graphql_payments.models import metadata
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.helpers import JWT_SECRET, SHARED_SECRET, WEBHOOK_SECRET, GraphQLClient

POSTGRES_URL = os.environ.get("PAYMENTS_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


def pytest_configure(config: pytest.Config) -> None:
    # Settings come from each test, never from the developer's environment or .env.
    for name in list(os.environ):
        if name.startswith(("STRIPE_", "PAYMENTS_")) and not name.startswith("PAYMENTS_TEST_"):
            del os.environ[name]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """The root logger's handlers and level as before the test: a test that runs the CLI
    configures logging onto the stream pytest captured for it, closed once the test ends."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture
def one_rate_window() -> None:
    """Starts a test of rate limits early enough in a minute to end in it. The sliding window
    counter weighs the last window's hits by the share of it still in view and rounds down, so
    just after a window's edge one hit more goes through: counts that straddle an edge are off
    by one (a limit of one minute or longer keeps this to the edges of minutes)."""
    left = 60 - time.time() % 60
    if left < 10:
        time.sleep(left + 0.05)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "payments.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database=parsed.database or "postgres",
    )
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test run's own on the PostgreSQL server, dropped at the end."""
    assert POSTGRES_URL is not None
    name = f"payments_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "payments.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    asyncio.run(_admin(url, f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        public_url="http://payments.test",
        jwt_secret=JWT_SECRET,
        shared_secret=SHARED_SECRET,
        stripe_webhook_secret=[WEBHOOK_SECRET],
        stripe_timeout=2.0,
        stripe_max_retries=0,
        # Off unless a test is about rate limits: tests send bursts on purpose.
        rate_limits="off",
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    yield application
    services: Services = application.state.services
    if services.sandbox is not None:
        await services.sandbox.webhooks.wait_idle(timeout=10)
    await services.aclose()


@pytest.fixture
def services(app: Starlette) -> Services:
    return app.state.services  # type: ignore[no-any-return]


@pytest.fixture
def sandbox(services: Services) -> Sandbox:
    assert services.sandbox is not None
    return services.sandbox


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://payments.test") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)
