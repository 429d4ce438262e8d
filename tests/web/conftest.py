"""Fixtures for the browser pages: the app served over real HTTP by uvicorn in a thread, and
Debian's Chromium driven by Playwright (skipped, saying why, only when no Chromium exists)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Page, Route, sync_playwright

from graphql_payments.app import create_app
from graphql_payments.config import Settings
from tests.helpers import JWT_SECRET, free_port

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(
    os.environ.get("PAYMENTS_TEST_ARTIFACTS", Path(__file__).parents[2] / ".artifacts")
)


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture
def live_server(database_url: str) -> Iterator[str]:
    """The app in sandbox mode (with the demo) on a free port, as `make run` serves it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=database_url,
        port=port,
        jwt_secret=JWT_SECRET,
        stripe_timeout=5.0,
        stripe_max_retries=0,
    )
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def page(live_server: str) -> Iterator[Page]:
    """A fresh Chromium page that may reach only the live server: any other request fails the
    test (GraphiQL and the pages must work offline).

    Playwright's sync API holds an event loop while it runs, so it starts after the database
    fixtures (which run their own) and stops before the next test's."""
    path = chromium_path()
    if path is None:
        pytest.skip(
            "No Chromium: install Debian's chromium package (apt-get install chromium, as "
            ".ci/run does) for the browser tests."
        )
    outside: list[str] = []
    errors: list[str] = []

    def only_local(route: Route) -> None:
        if route.request.url.startswith((live_server, "data:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(base_url=live_server, viewport={"width": 1100, "height": 900})
        context.set_default_timeout(10_000)
        context.route("**/*", only_local)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            yield page
        finally:
            context.close()
            browser.close()
    assert outside == [], f"the pages asked for outside resources: {outside}"
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
def screenshot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """`screenshot("name")` saves the page under .artifacts/screenshots/<test>/."""
    folder = ARTIFACTS / "screenshots" / request.node.name.replace("[", "-").rstrip("]")
    folder.mkdir(parents=True, exist_ok=True)
    count = iter(range(1, 100))

    def take(name: str) -> Path:
        path: Path = folder / f"{next(count):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def api(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=10) as client:
        yield client
