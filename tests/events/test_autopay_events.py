"""Autopay and credit consumption announce autopay.* and credits.consumed events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from graphql_payments.events.models import OutboxEvent
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.autopay.flows import advance_to, consume, sandbox_now, save_card, set_autopay, settle
from tests.events.helpers import assert_valid
from tests.helpers import GraphQLClient

pytestmark = pytest.mark.anyio

DAY = dt.timedelta(days=1)


async def events(services: Services) -> list[tuple[str, str, dict[str, Any]]]:
    async with services.db.reading() as session:
        rows = (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.position))).all()
    for row in rows:
        assert_valid({"type": row.type, "timestamp": row.data["occurredAt"], "data": row.data})
    return [(row.type, row.subject, row.data) for row in rows]


async def test_a_top_up_after_consumption_is_announced(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services
) -> None:
    # given
    await save_card(gql, http, services, card="4242424242424242")
    await set_autopay(gql, packageId="basic", belowBalance=50, idempotencyKey="t-1")
    await settle(services)
    # when
    await consume(gql, "alice", 60, key="use-1")
    await settle(services)
    # then
    found = await events(services)
    types = [t for t, _, _ in found]
    assert types.count("autopay.charged") == 2
    assert "payment.succeeded" not in types
    consumed = [d for t, _, d in found if t == "credits.consumed"]
    assert [(d["subject"], d["credits"]["delta"]) for d in consumed] == [("user:alice", -60)]
    charged = [d for t, _, d in found if t == "autopay.charged"]
    assert charged[0]["payment"]["kind"] == "AUTOPAY"
    assert charged[0]["payment"]["autopayId"]


async def test_declines_then_a_pause_are_announced(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given: a card that declines every charge
    await save_card(gql, http, services, card="4000000000000341")
    start = sandbox_now(sandbox)
    await set_autopay(gql, packageId="basic", belowBalance=50, idempotencyKey="d-1")
    await settle(services)
    # when: the retries run out
    for days in (1, 3, 5):
        await advance_to(services, start + days * DAY + dt.timedelta(minutes=1))
    # then
    found = await events(services)
    assert [t for t, _, _ in found].count("autopay.failed") == 4
    paused = [d for t, _, d in found if t == "autopay.paused"]
    assert len(paused) == 1
    assert paused[0]["subject"] == "user:alice"
    assert paused[0]["autopay"]["pausedReason"] == "PAYMENT_FAILED"
    assert paused[0]["autopay"]["failureCount"] == 4
