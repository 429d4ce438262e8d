"""Every refund and dispute test ends with a sound ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from graphql_payments.services import Services


@pytest.fixture(autouse=True)
async def ledger_stays_sound(services: Services) -> AsyncIterator[None]:
    yield
    if services.sandbox is not None:
        await services.sandbox.webhooks.wait_idle()
    assert await services.credits.verify_ledger() == []
