"""Reconciliation tests: no grace period, short intervals, and a sandbox whose webhooks can be
lost on purpose (`lose_webhooks`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from graphql_payments.config import Settings
from graphql_payments.payments.models import Payment
from graphql_payments.refunds.models import Refund
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"reconcile_grace": 0.0, "reconcile_interval": 0.01, "refund_max_attempts": 2}
    )


@pytest.fixture(autouse=True)
async def ledger_stays_sound(services: Services) -> AsyncIterator[None]:
    yield
    if services.sandbox is not None:
        await services.sandbox.webhooks.wait_idle()
    assert await services.credits.verify_ledger() == []


def lose_webhooks(sandbox: Sandbox) -> None:
    """From now on no delivery reaches the server (as when it is down for days)."""
    for endpoint_id in list(sandbox.webhooks.endpoints):
        sandbox.remove_webhook_endpoint(endpoint_id)


async def stored_payment(services: Services, payment_id: str) -> Payment:
    async with services.db.reading() as session:
        payment = await session.get(Payment, payment_id)
    assert payment is not None
    return payment


async def stored_refund(services: Services, refund_id: str) -> Refund:
    async with services.db.reading() as session:
        refund = await session.get(Refund, refund_id)
    assert refund is not None
    return refund
