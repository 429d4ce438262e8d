"""The relay survives a crash: what committed is published after a restart, exactly as it was."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from graphql_payments.app import create_app
from graphql_payments.config import Settings
from graphql_payments.db import utcnow
from graphql_payments.events import repository
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.events.helpers import Receiver, create_endpoint, in_order, relay_until_idle
from tests.helpers import GraphQLClient, serving
from tests.refunds.flows import buy, refund

pytestmark = pytest.mark.anyio


async def test_events_committed_before_a_crash_are_published_after_restart(
    gql: GraphQLClient, sandbox: Sandbox, services: Services, settings: Settings
) -> None:
    # given: a server that commits a purchase and dies before its relay publishes anything,
    # one delivery even claimed mid-flight
    receiver = Receiver()
    async with serving(receiver.app) as url:
        endpoint = await create_endpoint(gql, f"{url}/hook")
        receiver.secret = endpoint["secret"]
        paid = await buy(gql, sandbox)
        async with services.db.transaction() as session:
            claimed = await repository.claim_due(
                session, now=utcnow(), lease=dt.timedelta(seconds=0), limit=1
            )
        assert len(claimed) == 1
        await services.aclose()
        assert receiver.events == []
        # when: another server process starts on the same database
        restarted = create_app(settings).state.services
        try:
            await relay_until_idle(restarted)
        finally:
            await restarted.aclose()
    # then
    assert in_order(receiver.events, paid["id"]) == [
        "payment.created",
        "payment.succeeded",
        "credits.granted",
    ]


async def test_two_relays_at_once_deliver_each_event_once_in_order(
    gql: GraphQLClient, sandbox: Sandbox, services: Services, settings: Settings
) -> None:
    # given
    receiver = Receiver()
    other = create_app(settings).state.services
    try:
        async with serving(receiver.app) as url:
            endpoint = await create_endpoint(gql, f"{url}/hook")
            receiver.secret = endpoint["secret"]
            bought = [await buy(gql, sandbox, user=f"user-{n}", key=f"k-{n}") for n in range(4)]
            # when
            await asyncio.gather(relay_until_idle(services), relay_until_idle(other))
    finally:
        await other.aclose()
    # then
    assert len(receiver.events) == 12
    assert len({e["data"]["eventId"] for e in receiver.events}) == 12
    for paid in bought:
        assert in_order(receiver.events, paid["id"]) == [
            "payment.created",
            "payment.succeeded",
            "credits.granted",
        ]


async def test_delivered_events_are_purged_after_the_retention_and_numbering_goes_on(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    receiver = Receiver()
    async with serving(receiver.app) as url:
        endpoint = await create_endpoint(gql, f"{url}/hook")
        receiver.secret = endpoint["secret"]
        paid = await buy(gql, sandbox)
        await relay_until_idle(services)
        # when
        async with services.db.transaction() as session:
            later = utcnow() + dt.timedelta(days=31)
            purged = await repository.purge_settled(session, before=later)
        await refund(gql, paid["id"], amount=100)
        await sandbox.webhooks.wait_idle()
        await relay_until_idle(services)
    # then
    assert purged == 3
    refunded = [e for e in receiver.events if e["type"] == "payment.refunded"]
    assert refunded[0]["data"]["sequence"] == 4
