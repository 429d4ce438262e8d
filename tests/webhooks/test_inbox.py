"""The webhook inbox: verification on the raw body, storing once, bounded retries."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select

from graphql_payments.config import Settings
from graphql_payments.db import utcnow
from graphql_payments.gateway import PAYMENT_ID_KEY
from graphql_payments.payments.models import PaymentStatus
from graphql_payments.services import Services
from graphql_payments.webhooks.models import EventStatus, WebhookEvent
from graphql_payments.webhooks.service import WebhookInbox
from tests.factories import payment_rows
from tests.helpers import WEBHOOK_SECRET, signed


def event(
    event_id: str = "evt_1",
    *,
    type: str = "checkout.session.completed",
    obj: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": type,
        "created": int(time.time()),
        "livemode": False,
        "data": {
            "object": obj
            or {
                "id": "cs_test_foreign",
                "object": "checkout.session",
                "status": "complete",
                "payment_status": "paid",
                "amount_total": 1000,
                "currency": "usd",
                "metadata": {},
            }
        },
    }


async def stored(services: Services) -> list[WebhookEvent]:
    async with services.db.reading() as session:
        return list((await session.execute(select(WebhookEvent))).scalars())


async def test_a_stale_timestamp_is_refused_and_nothing_stored(
    http: httpx.AsyncClient, services: Services
) -> None:
    # given: signed correctly, but 301 seconds ago
    body, headers = signed(event(), timestamp=int(time.time()) - 301)
    # when
    response = await http.post("/webhooks/stripe", content=body, headers=headers)
    # then
    assert response.status_code == 400
    assert await stored(services) == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"id": "evt_x"}',
        b'{"id": "evt_x", "type": "a", "data": 1}',
        b"\xff\xfe",
    ],
)
async def test_malformed_bodies_are_refused_and_nothing_stored(
    http: httpx.AsyncClient, services: Services, body: bytes
) -> None:
    # given: a valid signature over a body that is not an event
    from graphql_payments.gateway import sign_webhook

    text = body.decode("utf-8", errors="replace")
    headers = {"Stripe-Signature": sign_webhook(text, WEBHOOK_SECRET)}
    # when
    response = await http.post("/webhooks/stripe", content=body, headers=headers)
    # then
    assert response.status_code == 400
    assert await stored(services) == []


async def test_a_huge_body_is_refused_and_nothing_stored(
    http: httpx.AsyncClient, services: Services
) -> None:
    # given
    big = event()
    big["data"]["object"]["padding"] = "x" * (2 * 1024 * 1024)
    body, headers = signed(big)
    # when
    response = await http.post("/webhooks/stripe", content=body, headers=headers)
    # then
    assert response.status_code == 413
    assert await stored(services) == []


async def test_events_for_objects_we_did_not_create_are_recorded_and_ignored(
    http: httpx.AsyncClient, services: Services
) -> None:
    # given
    body, headers = signed(event())
    # when
    response = await http.post("/webhooks/stripe", content=body, headers=headers)
    # then
    assert response.status_code == 200
    [row] = await stored(services)
    assert row.status is EventStatus.IGNORED
    assert row.handled_at is not None


async def test_concurrent_duplicates_are_stored_once(
    http: httpx.AsyncClient, services: Services
) -> None:
    # given
    body, headers = signed(event("evt_dup"))
    # when
    responses = await asyncio.gather(
        *(http.post("/webhooks/stripe", content=body, headers=headers) for _ in range(10))
    )
    # then
    assert {r.status_code for r in responses} == {200}
    assert sum(not r.json()["duplicate"] for r in responses) == 1
    async with services.db.reading() as session:
        count = await session.scalar(select(func.count()).select_from(WebhookEvent))
    assert count == 1


async def test_a_repeated_delivery_is_answered_from_memory_and_found_anew_elsewhere(
    http: httpx.AsyncClient, services: Services
) -> None:
    # given: an event stored by this process
    body, headers = signed(event("evt_again"))
    first = await http.post("/webhooks/stripe", content=body, headers=headers)
    # when: delivered again, and stored-state asked of another process's inbox
    again = await http.post("/webhooks/stripe", content=body, headers=headers)
    elsewhere = WebhookInbox(services.db, services.settings, services.inbox.handlers)
    stored_there, _ = await elsewhere.store_event(event("evt_again"))
    # then: stored once; the repeat needed no write, the other inbox found it in the database
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert stored_there is False
    assert "evt_again" in services.inbox._stored
    assert len(await stored(services)) == 1


async def test_an_event_for_a_payment_that_never_appears_gives_up_after_bounded_retries(
    http: httpx.AsyncClient, services: Services
) -> None:
    # given: an event that names one of our payments, which never commits
    obj = event()["data"]["object"] | {"metadata": {PAYMENT_ID_KEY: "pay_missing"}}
    body, headers = signed(event("evt_orphan", obj=obj))
    await http.post("/webhooks/stripe", content=body, headers=headers)
    # when: retries come due again and again
    later = utcnow()
    for _ in range(services.settings.webhook_max_attempts + 2):
        later += dt.timedelta(hours=1)
        await services.inbox.process_due(now=later)
    # then
    [row] = await stored(services)
    assert row.status is EventStatus.FAILED
    assert row.attempts == services.settings.webhook_max_attempts
    assert "pay_missing" in (row.last_error or "")


class TestRotation:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return Settings(
            database_url=database_url,
            public_url="http://payments.test",
            stripe_webhook_secret=["whsec_new_signing_secret", WEBHOOK_SECRET],
        )

    async def test_any_configured_secret_verifies(
        self, http: httpx.AsyncClient, services: Services
    ) -> None:
        # given
        old_body, old_headers = signed(event("evt_old"), secret=WEBHOOK_SECRET)
        new_body, new_headers = signed(event("evt_new"), secret="whsec_new_signing_secret")
        other_body, other_headers = signed(event("evt_other"), secret="whsec_other")
        # when
        statuses = [
            (await http.post("/webhooks/stripe", content=b, headers=h)).status_code
            for b, h in [
                (old_body, old_headers),
                (new_body, new_headers),
                (other_body, other_headers),
            ]
        ]
        # then
        assert statuses == [200, 200, 400]
        assert sorted(r.id for r in await stored(services)) == ["evt_new", "evt_old"]
        assert json.loads((await stored(services))[0].payload)["object"] == "event"


def completing(payment_ids: list[str], *, bad: int | None = None) -> list[dict[str, Any]]:
    """An event completing each payment's checkout; the one at `bad` has no object id."""
    events = []
    for n, payment_id in enumerate(payment_ids):
        obj = event()["data"]["object"] | {
            "id": f"cs_test_{payment_id}",
            "client_reference_id": payment_id,
            "metadata": {PAYMENT_ID_KEY: payment_id},
        }
        if n == bad:
            del obj["id"]  # the handler raises
        events.append(event(f"evt_{payment_id}", obj=obj))
    return events


def commits(services: Services) -> list[int]:
    seen: list[int] = []
    sqlalchemy_event.listen(
        services.db.engine.sync_engine, "commit", lambda _connection: seen.append(1)
    )
    return seen


async def test_events_of_a_moment_are_applied_and_recorded_in_one_transaction(
    services: Services,
) -> None:
    # given: three pending purchases, each completed by an event
    events = completing(await payment_rows(services, 3, status=PaymentStatus.PENDING))
    for received in events:
        await services.inbox.store_event(received)
    committed = commits(services)
    # when: they are applied at the same moment
    statuses = await asyncio.gather(*(services.inbox.process_received(e) for e in events))
    # then: one commit applied all three and recorded their outcomes
    assert statuses == [EventStatus.HANDLED] * 3
    assert len(committed) == 1
    assert {row.status for row in await stored(services)} == {EventStatus.HANDLED}
    assert await services.credits.balance("alice") == 300


async def test_a_bad_event_among_those_of_a_moment_fails_alone(services: Services) -> None:
    # given: three pending purchases, each completed by an event; the second is malformed
    events = completing(await payment_rows(services, 3, status=PaymentStatus.PENDING), bad=1)
    for received in events:
        await services.inbox.store_event(received)
    committed = commits(services)
    # when
    statuses = await asyncio.gather(*(services.inbox.process_received(e) for e in events))
    # then: the good ones are applied and recorded, each credited once; the bad one waits for a
    # retry with its error, and nothing of it was written
    assert statuses == [EventStatus.HANDLED, EventStatus.PENDING, EventStatus.HANDLED]
    bad = next(row for row in await stored(services) if row.id == events[1]["id"])
    assert "KeyError" in (bad.last_error or "")
    assert await services.credits.balance("alice") == 200
    assert await services.credits.verify_ledger() == []
    # the shared transaction rolled back, then each event ran alone: two commits of events
    # applied with their outcomes, one of the bad event's outcome
    assert len(committed) == 3
