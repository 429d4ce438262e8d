"""Signed webhook delivery, retries and the delivery controls."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import stripe

from graphql_payments.sandbox import Sandbox
from tests.sandbox.helpers import (
    Receiver,
    client_for,
    listen,
    make_sandbox,
    paid_intent,
)

pytestmark = pytest.mark.anyio


async def new_customers(client: Any, count: int) -> list[str]:
    return [
        (await client.v1.customers.create_async(params={"name": f"c{index}"})).id
        for index in range(count)
    ]


async def test_events_are_delivered_signed_with_stripe_shape(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver()
    listen(sandbox, receiver)
    await sandbox.advance_clock(86400)

    # when
    intent = await paid_intent(client, metadata={"order": "1"})
    await sandbox.webhooks.wait_idle()

    # then
    assert receiver.rejected == []
    assert receiver.types == ["payment_intent.created", "charge.succeeded",
                              "payment_intent.succeeded"]  # fmt: skip
    event = receiver.events[-1]
    assert set(event) == {"id", "object", "api_version", "created", "data", "livemode",
                          "pending_webhooks", "request", "type"}  # fmt: skip
    assert event["object"] == "event"
    assert event["id"].startswith("evt_")
    assert event["livemode"] is False
    assert event["created"] >= sandbox.clock.now() - 5
    assert event["data"]["object"]["id"] == intent.id
    assert event["data"]["object"]["metadata"] == {"order": "1"}
    assert event["data"]["previous_attributes"]["status"] == "requires_confirmation"
    assert event["request"]["id"] == intent.last_response.request_id
    timestamp = int(receiver.deliveries[-1].signature.split(",")[0].removeprefix("t="))
    assert abs(timestamp - time.time()) < 5
    constructed = stripe.Webhook.construct_event(
        receiver.deliveries[-1].body.decode(), receiver.deliveries[-1].signature, receiver.secret
    )
    assert constructed.type == "payment_intent.succeeded"
    stored = await client.v1.events.retrieve_async(event["id"])
    assert stored.pending_webhooks == 0


async def test_delivery_does_not_hold_up_the_api(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver(delay=1.0)
    listen(sandbox, receiver)

    # when
    started = time.monotonic()
    await client.v1.customers.create_async(params={})
    elapsed = time.monotonic() - started
    await sandbox.webhooks.wait_idle()

    # then
    assert elapsed < 0.9  # the API answered before the receiver did
    assert receiver.types == ["customer.created"]


async def test_server_errors_are_retried(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver(statuses=[500, 503])
    endpoint_id = listen(sandbox, receiver)

    # when
    await client.v1.customers.create_async(params={})
    await sandbox.webhooks.wait_idle()

    # then
    attempts = sandbox.webhooks.attempts
    assert [(a.attempt, a.status, a.ok) for a in attempts] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert {a.endpoint_id for a in attempts} == {endpoint_id}
    assert {a.event_type for a in attempts} == {"customer.created"}
    assert len({delivery.event["id"] for delivery in receiver.deliveries}) == 1
    assert len(receiver.deliveries) == 3


async def test_retries_are_bounded(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver(statuses=[500] * 10)
    listen(sandbox, receiver)

    # when
    await client.v1.customers.create_async(params={})
    await sandbox.webhooks.wait_idle()

    # then
    assert [a.attempt for a in sandbox.webhooks.attempts] == [1, 2, 3, 4]
    assert sandbox.events[-1]["pending_webhooks"] == 1


async def test_slow_receiver_times_out_and_is_retried() -> None:
    # given
    sandbox = make_sandbox(webhook_timeout=0.5)
    receiver = Receiver(delays=[1.0])
    listen(sandbox, receiver)

    # when
    await client_for(sandbox).v1.customers.create_async(params={})
    await sandbox.webhooks.wait_idle()

    # then
    attempts = sandbox.webhooks.attempts
    assert [(a.attempt, a.error) for a in attempts] == [(1, "timeout"), (2, None)]
    assert attempts[-1].ok
    assert len(receiver.deliveries) == 2


async def test_latency_beyond_the_timeout_fails_every_attempt() -> None:
    # given
    sandbox = make_sandbox(webhook_timeout=0.05, webhook_retry_delays=(0.01,))
    receiver = Receiver()
    listen(sandbox, receiver)
    sandbox.webhooks.latency(0.2)

    # when
    await client_for(sandbox).v1.customers.create_async(params={})
    await sandbox.webhooks.wait_idle()

    # then
    assert [a.error for a in sandbox.webhooks.attempts] == ["timeout", "timeout"]
    assert receiver.deliveries == []


async def test_timeout_next_resends_what_the_receiver_already_got(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    receiver = Receiver()
    listen(sandbox, receiver)
    sandbox.webhooks.timeout_next(1)

    # when
    await client.v1.customers.create_async(params={})
    await sandbox.webhooks.wait_idle()

    # then
    assert [(a.status, a.error) for a in sandbox.webhooks.attempts] == [
        (None, "timeout"),
        (200, None),
    ]
    assert len(receiver.deliveries) == 2
    assert receiver.events[0]["id"] == receiver.events[1]["id"]


async def test_fail_next_targets_one_endpoint(client: Any, sandbox: Sandbox) -> None:
    # given
    first, second = Receiver(), Receiver()
    first_id = listen(sandbox, first, "http://first.test/webhooks")
    listen(sandbox, second, "http://second.test/webhooks")
    sandbox.webhooks.fail_next(2, status=502, endpoint=first_id)

    # when
    await client.v1.customers.create_async(params={})
    await sandbox.webhooks.wait_idle()

    # then
    first_attempts = [a for a in sandbox.webhooks.attempts if a.endpoint_id == first_id]
    assert [a.status for a in first_attempts] == [502, 502, 200]
    assert len(first.deliveries) == 1
    assert len(second.deliveries) == 1


async def test_hold_then_release_in_reverse(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver()
    listen(sandbox, receiver)
    sandbox.webhooks.hold()
    customer_ids = await new_customers(client, 3)
    await asyncio.sleep(0.05)
    assert receiver.deliveries == []
    assert sandbox.webhooks.held == 3

    # when
    sandbox.webhooks.release(order="reverse")
    await sandbox.webhooks.wait_idle()

    # then
    assert [event["data"]["object"]["id"] for event in receiver.events] == customer_ids[::-1]
    assert sandbox.webhooks.holding is False


async def test_hold_then_release_in_order(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver()
    listen(sandbox, receiver)
    sandbox.webhooks.hold()
    customer_ids = await new_customers(client, 3)

    # when
    sandbox.webhooks.release()
    await sandbox.webhooks.wait_idle()

    # then
    assert [event["data"]["object"]["id"] for event in receiver.events] == customer_ids


async def test_duplicate_sends_each_event_several_times(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver()
    listen(sandbox, receiver)
    sandbox.webhooks.duplicate(times=3)

    # when
    await client.v1.customers.create_async(params={})
    await sandbox.webhooks.wait_idle()
    sandbox.webhooks.duplicate(1)
    await client.v1.customers.create_async(params={})
    await sandbox.webhooks.wait_idle()

    # then
    ids = [event["id"] for event in receiver.events]
    assert len(ids) == 4
    assert len(set(ids[:3])) == 1
    assert ids[3] != ids[0]
    assert sorted(a.copy for a in sandbox.webhooks.attempts[:3]) == [1, 2, 3]


async def test_delay_postpones_each_delivery(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver()
    listen(sandbox, receiver)
    sandbox.webhooks.delay(0.2)

    # when
    await client.v1.customers.create_async(params={})
    await asyncio.sleep(0.05)
    early = len(receiver.deliveries)
    await sandbox.webhooks.wait_idle()

    # then
    assert early == 0
    assert len(receiver.deliveries) == 1


async def test_wait_idle_gives_up_after_its_timeout(client: Any, sandbox: Sandbox) -> None:
    # given
    listen(sandbox, Receiver(delay=0.5))
    await client.v1.customers.create_async(params={})

    # when
    with pytest.raises(TimeoutError):
        await sandbox.webhooks.wait_idle(timeout=0.05)

    # then
    await sandbox.webhooks.wait_idle()


async def test_removed_endpoint_gets_nothing(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver()
    endpoint_id = listen(sandbox, receiver)
    sandbox.remove_webhook_endpoint(endpoint_id)

    # when
    await client.v1.customers.create_async(params={})
    await sandbox.webhooks.wait_idle()

    # then
    assert receiver.deliveries == []
    assert sandbox.events[-1]["pending_webhooks"] == 0


async def test_endpoints_get_only_the_events_they_listen_to(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver()
    sandbox.add_webhook_endpoint(
        "http://receiver.test/webhooks",
        secret=receiver.secret,
        transport=receiver.transport(),
        enabled_events=["payment_intent.succeeded"],
    )

    # when
    await paid_intent(client)
    await sandbox.webhooks.wait_idle()

    # then
    assert receiver.types == ["payment_intent.succeeded"]


async def test_wrong_secret_is_rejected_by_the_receiver(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver(secret="whsec_other")
    sandbox.add_webhook_endpoint(
        "http://receiver.test/webhooks", secret="whsec_sandbox", transport=receiver.transport()
    )

    # when
    await client.v1.customers.create_async(params={})
    await sandbox.webhooks.wait_idle()

    # then
    assert receiver.deliveries == []
    assert len(receiver.rejected) == 4
    assert {a.status for a in sandbox.webhooks.attempts} == {400}


async def test_events_api_lists_and_filters(client: Any, sandbox: Sandbox) -> None:
    # given
    await paid_intent(client)
    await paid_intent(client)

    # when
    succeeded = await client.v1.events.list_async(params={"type": "payment_intent.succeeded"})
    charges = await client.v1.events.list_async(params={"type": "charge.*"})
    page = await client.v1.events.list_async(params={"limit": 2})
    rest = await client.v1.events.list_async(params={"starting_after": page.data[-1].id})

    # then
    assert len(succeeded.data) == 2
    assert {event.type for event in charges.data} == {"charge.succeeded"}
    everything = [event["id"] for event in reversed(sandbox.events)]
    assert [event.id for event in page.data] + [event.id for event in rest.data] == everything
    assert page.has_more is True


async def test_webhook_endpoints_api(client: Any, sandbox: Sandbox) -> None:
    # when
    created = await client.v1.webhook_endpoints.create_async(
        params={"url": "https://shop.test/hooks", "enabled_events": ["charge.succeeded"]}
    )
    listed = await client.v1.webhook_endpoints.list_async()
    deleted = await client.v1.webhook_endpoints.delete_async(created.id)

    # then
    assert created.secret.startswith("whsec_")
    assert [endpoint.id for endpoint in listed.data] == [created.id]
    assert deleted.deleted is True
    assert sandbox.webhooks.endpoints == {}


async def test_reset_forgets_state_but_keeps_endpoints(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver()
    listen(sandbox, receiver)
    sandbox.webhooks.hold()
    await paid_intent(client, amount=1000)
    sandbox.faults.fail_api(status=500)
    await sandbox.advance_clock(3600)

    # when
    sandbox.reset()
    customer = await client.v1.customers.create_async(params={})
    await sandbox.webhooks.wait_idle()

    # then
    assert sandbox.objects("payment_intent") == []
    assert [event["type"] for event in sandbox.events] == ["customer.created"]
    assert receiver.types == ["customer.created"]
    assert receiver.events[0]["data"]["object"]["id"] == customer.id
    assert abs(sandbox.clock.now() - time.time()) < 5
