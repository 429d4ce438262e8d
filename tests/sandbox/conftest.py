from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from graphql_payments.sandbox import Sandbox
from tests.sandbox.helpers import client_for, make_sandbox


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    box = make_sandbox()
    yield box
    await box.aclose()


@pytest.fixture
def client(sandbox: Sandbox) -> Any:
    return client_for(sandbox)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The conformance test's counts, at the end of the run."""
    from tests.sandbox.test_conformance import SUMMARY

    for line in SUMMARY:
        terminalreporter.write_line(f"Stripe conformance: {line}")
