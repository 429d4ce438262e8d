"""The JSON control API mirrors the Python controls."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from graphql_payments.sandbox import Sandbox
from tests.sandbox.helpers import (
    Receiver,
    browser_for,
    checkout_session,
    listen,
    paid_intent,
)

pytestmark = pytest.mark.anyio


async def test_clock_and_state(sandbox: Sandbox) -> None:
    # given
    async with browser_for(sandbox) as http:
        before = (await http.get("/control/clock")).json()["now"]

        # when
        advanced = await http.post("/control/clock/advance", json={"seconds": 7200})
        state = await http.get("/control/state")

    # then
    assert advanced.json()["now"] - before >= 7200
    assert state.json()["webhooks"] == {"endpoints": 0, "holding": False, "held": 0,
                                        "attempts": 0}  # fmt: skip


async def test_webhook_controls(client: Any, sandbox: Sandbox) -> None:
    # given
    receiver = Receiver()
    endpoint_id = listen(sandbox, receiver)
    async with browser_for(sandbox) as http:
        await http.post("/control/webhooks/hold")
        await client.v1.customers.create_async(params={"name": "a"})
        await client.v1.customers.create_async(params={"name": "b"})
        await http.post(
            "/control/webhooks/fail_next", json={"count": 1, "status": 502, "endpoint": endpoint_id}
        )

        # when
        await http.post("/control/webhooks/release", json={"order": "reverse"})
        idle = await http.post("/control/webhooks/wait_idle", json={"timeout": 5})
        attempts = (await http.get("/control/webhooks/attempts")).json()["data"]
        endpoints = (await http.get("/control/webhooks/endpoints")).json()["data"]

    # then
    assert idle.status_code == 200
    first, second = (event["id"] for event in sandbox.events)
    assert [(attempt["event"], attempt["status"]) for attempt in attempts] == [
        (second, 502),
        (first, 200),
        (second, 200),
    ]
    assert [event["data"]["object"]["name"] for event in receiver.events] == ["a", "b"]
    assert endpoints[0]["id"] == endpoint_id
    assert "secret" not in endpoints[0]


async def test_webhook_endpoint_registration(sandbox: Sandbox) -> None:
    # given
    async with browser_for(sandbox) as http:
        # when
        created = await http.post(
            "/control/webhooks/endpoints", json={"url": "http://127.0.0.1:9/hooks"}
        )
        endpoint_id = created.json()["id"]
        removed = await http.delete(f"/control/webhooks/endpoints/{endpoint_id}")

    # then
    assert created.json()["secret"].startswith("whsec_")
    assert removed.status_code == 200
    assert sandbox.webhooks.endpoints == {}


async def test_fault_controls(client: Any, sandbox: Sandbox) -> None:
    # given
    async with browser_for(sandbox) as http:
        await http.post("/control/faults/fail_api", json={"status": 500, "count": 1})

        # when
        with pytest.raises(stripe.APIError):
            await client.v1.customers.list_async()
        await http.post("/control/faults/fail_api", json={"status": 503})
        await http.post("/control/faults/clear")
        listed = await client.v1.customers.list_async()

    # then
    assert listed.data == []


async def test_payer_and_bank_actions(client: Any, sandbox: Sandbox) -> None:
    # given
    session = await checkout_session(client)
    async with browser_for(sandbox) as http:
        # when
        paid = (
            await http.post(
                f"/control/checkout/sessions/{session.id}/pay", json={"card": "pm_card_visa"}
            )
        ).json()
        intent = await client.v1.payment_intents.retrieve_async(paid["payment_intent"])
        dispute = (
            await http.post("/control/disputes", json={"charge": intent.latest_charge})
        ).json()
        closed = (
            await http.post(f"/control/disputes/{dispute['id']}/close", json={"won": True})
        ).json()
        other = await paid_intent(client)
        refund = await client.v1.refunds.create_async(params={"payment_intent": other.id})
        failed = (
            await http.post(f"/control/refunds/{refund.id}/fail", json={"reason": "declined"})
        ).json()
        pending = await paid_intent(client, payment_method="pm_card_threeDSecure2Required")
        authenticated = (
            await http.post(f"/control/authenticate/{pending.id}", json={"succeed": True})
        ).json()
        canceled = (await http.post(f"/control/checkout/sessions/{session.id}/cancel")).json()

    # then
    assert paid["succeeded"] is True
    assert paid["redirect_url"] == f"https://shop.test/success?session={session.id}"
    assert closed["status"] == "won"
    assert (failed["status"], failed["failure_reason"]) == ("failed", "declined")
    assert authenticated["status"] == "succeeded"
    assert canceled == {"redirect_url": "https://shop.test/cancel"}


async def test_reading_objects_and_events(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client)
    async with browser_for(sandbox) as http:
        # when
        objects = (await http.get("/control/objects/payment_intent")).json()["data"]
        events = (await http.get("/control/events", params={"type": "charge.succeeded"})).json()
        unknown = await http.get("/control/objects/nope")
        reset = await http.post("/control/reset")

    # then
    assert [obj["id"] for obj in objects] == [intent.id]
    assert [event["type"] for event in events["data"]] == ["charge.succeeded"]
    assert unknown.status_code == 400
    assert reset.json() == {"ok": True}
    assert sandbox.objects("payment_intent") == []


async def test_control_errors_use_stripe_envelope(sandbox: Sandbox) -> None:
    # given
    async with browser_for(sandbox) as http:
        # when
        missing = await http.post("/control/refunds/re_missing/fail", json={})
        not_json = await http.post("/control/clock/advance", content=b"{nope")
        bad_value = await http.post("/control/webhooks/release", json={"order": "random"})

    # then
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "resource_missing"
    assert not_json.status_code == 400
    assert bad_value.status_code == 400


async def test_onboarding_a_connected_account(client: Any, sandbox: Sandbox) -> None:
    # given
    account = await client.v1.accounts.create_async(params={"type": "express"})

    # when
    async with browser_for(sandbox) as http:
        onboarded = await http.post(f"/control/accounts/{account.id}/onboard")
        missing = await http.post("/control/accounts/acct_missing/onboard")

    # then
    assert onboarded.json()["capabilities"] == {"card_payments": "active", "transfers": "active"}
    assert onboarded.json()["charges_enabled"] is True
    assert missing.status_code == 404
