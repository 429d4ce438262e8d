"""Refund bounds and the refund lifecycle, including failures after the fact."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from graphql_payments.sandbox import Sandbox, SandboxError
from tests.sandbox.helpers import paid_intent

pytestmark = pytest.mark.anyio


async def test_partial_refunds_up_to_the_captured_amount(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client, amount=3000)

    # when
    first = await client.v1.refunds.create_async(
        params={"payment_intent": intent.id, "amount": 1000, "reason": "requested_by_customer",
                "metadata": {"refund_id": "r1"}}
    )  # fmt: skip
    second = await client.v1.refunds.create_async(params={"charge": intent.latest_charge})

    # then
    assert (first.status, first.amount, first.reason) == (
        "succeeded",
        1000,
        "requested_by_customer",
    )
    assert first.metadata["refund_id"] == "r1"
    assert first.payment_intent == intent.id
    assert second.amount == 2000
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (3000, True)
    assert [refund.id for refund in charge.refunds.data] == [second.id, first.id]
    types = [event["type"] for event in sandbox.events]
    assert types[-4:] == ["refund.created", "charge.refunded", "refund.created", "charge.refunded"]


async def test_refund_larger_than_what_is_left(client: Any) -> None:
    # given
    intent = await paid_intent(client, amount=3000)
    await client.v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 2500})

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 501})

    # then
    assert raised.value.code == "amount_too_large"
    assert raised.value.param == "amount"
    assert "5.00 USD" in raised.value.user_message


async def test_fully_refunded_charge(client: Any) -> None:
    # given
    intent = await paid_intent(client)
    await client.v1.refunds.create_async(params={"payment_intent": intent.id})

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 1})

    # then
    assert raised.value.code == "charge_already_refunded"


async def test_no_refund_on_an_uncaptured_intent(client: Any) -> None:
    # given
    intent = await paid_intent(client, capture_method="manual")

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.refunds.create_async(params={"payment_intent": intent.id})

    # then
    assert raised.value.http_status == 400
    assert raised.value.param == "payment_intent"


async def test_partially_captured_charge_refunds_only_the_captured_part(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    intent = await paid_intent(client, amount=5000, capture_method="manual")
    await client.v1.payment_intents.capture_async(intent.id, params={"amount_to_capture": 2000})

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 2001})
    first = await client.v1.refunds.create_async(
        params={"payment_intent": intent.id, "amount": 500}
    )
    rest = await client.v1.refunds.create_async(params={"payment_intent": intent.id})

    # then: the uncaptured 3000 counts as refunded from the capture on, as at Stripe
    assert raised.value.code == "amount_too_large"
    assert (first.amount, rest.amount) == (500, 1500)
    refunded = [e["data"]["object"] for e in sandbox.events_of("charge.refunded")]
    assert [(c["amount_refunded"], c["refunded"]) for c in refunded] == [
        (3500, False),
        (5000, True),
    ]


async def test_refund_needs_a_payment(client: Any) -> None:
    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.refunds.create_async(params={"amount": 100})

    # then
    assert raised.value.code == "parameter_missing"


async def test_failed_refund_restores_the_refundable_amount(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client, amount=4000)
    refund = await client.v1.refunds.create_async(params={"payment_intent": intent.id})

    # when
    failed = await sandbox.fail_refund(refund.id, reason="expired_or_canceled_card")

    # then
    assert failed["status"] == "failed"
    assert failed["failure_reason"] == "expired_or_canceled_card"
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (0, False)
    assert [event["type"] for event in sandbox.events][-3:] == [
        "refund.failed",
        "refund.updated",
        "charge.refund.updated",
    ]
    assert sandbox.events[-1]["data"]["previous_attributes"]["status"] == "succeeded"
    again = await client.v1.refunds.create_async(params={"payment_intent": intent.id})
    assert again.amount == 4000


async def test_only_succeeded_refunds_can_fail(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client)
    refund = await client.v1.refunds.create_async(params={"payment_intent": intent.id})
    await sandbox.fail_refund(refund.id)

    # when
    with pytest.raises(SandboxError) as raised:
        await sandbox.fail_refund(refund.id)

    # then
    assert raised.value.code == "refund_unexpected_state"


async def test_refund_list_update_and_retrieve(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client, amount=3000)
    other = await paid_intent(client, amount=3000)
    refund = await client.v1.refunds.create_async(
        params={"payment_intent": intent.id, "amount": 100}
    )
    await client.v1.refunds.create_async(params={"payment_intent": other.id, "amount": 100})

    # when
    listed = await client.v1.refunds.list_async(params={"payment_intent": intent.id})
    updated = await client.v1.refunds.update_async(refund.id, params={"metadata": {"k": "v"}})
    fetched = await client.v1.refunds.retrieve_async(refund.id)

    # then
    assert [r.id for r in listed.data] == [refund.id]
    assert updated.metadata["k"] == "v"
    assert fetched.metadata["k"] == "v"
    assert sandbox.events[-1]["type"] == "charge.refund.updated"


async def test_no_refund_while_disputed(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client)
    await sandbox.create_dispute(intent.latest_charge)

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.refunds.create_async(params={"payment_intent": intent.id})

    # then
    assert raised.value.code == "charge_disputed"
