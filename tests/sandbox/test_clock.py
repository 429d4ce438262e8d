"""The sandbox clock and what time triggers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from graphql_payments.sandbox import Sandbox
from tests.sandbox.helpers import checkout_session, paid_intent

pytestmark = pytest.mark.anyio

DAY = 24 * 3600


async def test_clock_starts_at_real_time_and_only_moves_forward(sandbox: Sandbox) -> None:
    # given
    start = sandbox.clock.now()

    # when
    later = await sandbox.advance_clock(3600)

    # then
    assert abs(start - time.time()) < 5
    assert later - start >= 3600
    with pytest.raises(ValueError, match="backwards"):
        await sandbox.advance_clock(-1)


async def test_objects_are_stamped_with_sandbox_time(client: Any, sandbox: Sandbox) -> None:
    # given
    await sandbox.advance_clock(10 * DAY)

    # when
    customer = await client.v1.customers.create_async(params={})

    # then
    assert customer.created >= time.time() + 10 * DAY - 5


async def test_uncaptured_payment_is_canceled_after_seven_days(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    intent = await paid_intent(client, capture_method="manual")
    await sandbox.advance_clock(7 * DAY - 60)
    assert (await client.v1.payment_intents.retrieve_async(intent.id)).status == (
        "requires_capture"
    )

    # when
    await sandbox.advance_clock(120)

    # then
    expired = await client.v1.payment_intents.retrieve_async(intent.id)
    assert expired.status == "canceled"
    assert expired.cancellation_reason == "automatic"
    assert [event["type"] for event in sandbox.events][-2:] == [
        "charge.expired",
        "payment_intent.canceled",
    ]
    assert sandbox.events[-1]["request"] == {"id": None, "idempotency_key": None}


async def test_captured_payment_is_not_touched_by_time(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client, capture_method="manual")
    await client.v1.payment_intents.capture_async(intent.id)

    # when
    await sandbox.advance_clock(8 * DAY)

    # then
    assert (await client.v1.payment_intents.retrieve_async(intent.id)).status == "succeeded"


async def test_open_checkout_session_expires(client: Any, sandbox: Sandbox) -> None:
    # given
    session = await checkout_session(client, expires_at=sandbox.clock.now() + 3600)

    # when
    await sandbox.advance_clock(3601)

    # then
    expired = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert expired.status == "expired"
    assert sandbox.events[-1]["type"] == "checkout.session.expired"


async def test_default_session_lifetime_is_a_day(client: Any, sandbox: Sandbox) -> None:
    # given
    session = await checkout_session(client)
    assert session.expires_at - session.created == DAY

    # when
    await sandbox.advance_clock(DAY - 10)
    still_open = (await client.v1.checkout.sessions.retrieve_async(session.id)).status
    await sandbox.advance_clock(20)

    # then
    assert still_open == "open"
    assert (await client.v1.checkout.sessions.retrieve_async(session.id)).status == "expired"


async def test_idempotency_keys_are_forgotten_after_a_day(client: Any, sandbox: Sandbox) -> None:
    # given
    first = await client.v1.customers.create_async(
        params={"email": "a@a.a"}, options={"idempotency_key": "daily"}
    )

    # when
    await sandbox.advance_clock(DAY + 1)
    second = await client.v1.customers.create_async(
        params={"email": "b@b.b"}, options={"idempotency_key": "daily"}
    )

    # then
    assert first.id != second.id
