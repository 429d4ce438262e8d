"""Refunding a released escrow payment reverses the runner's transfer in proportion."""

from __future__ import annotations

import pytest

from graphql_payments.config import Settings
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.escrow.flows import (
    authorize,
    order_status,
    release,
    revert,
    runner_account,
    stripe_view,
)
from tests.helpers import GraphQLClient
from tests.refunds.flows import payment, refund


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"platform_fee_bps": 1000})


async def test_refunds_after_release_reverse_the_transfer_in_proportion(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given: 2500 captured, 250 fee, 2250 transferred to the runner
    account = await runner_account(sandbox)
    held = await authorize(gql)
    released = await release(gql, runnerAccountId=account)
    payment_id = held["payment"]["id"]
    assert released["payment"]["transferredAmount"] == {"amount": 2250}
    # when: 1000 of 2500 is refunded
    first = await refund(gql, payment_id, amount=1000, key="r1")
    # then: 2250 * 1000 / 2500 = 900 comes back from the runner
    assert first["payment"]["status"] == "PARTIALLY_REFUNDED"
    stripe = await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"])
    assert stripe["transfers"][0].amount_reversed == 900
    # when: the rest is refunded
    rest = await refund(gql, payment_id, key="r2")
    await sandbox.webhooks.wait_idle()
    # then
    assert rest["payment"]["status"] == "REFUNDED"
    stripe = await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"])
    assert stripe["transfers"][0].amount_reversed == 2250
    assert sum(r.amount for r in stripe["refunds"]) == 2500
    after = await payment(gql, payment_id)
    assert after["refundedAmount"]["amount"] == 2500


async def test_revert_after_a_partial_refund_returns_the_rest(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    account = await runner_account(sandbox)
    held = await authorize(gql)
    await release(gql, runnerAccountId=account)
    await refund(gql, held["payment"]["id"], amount=500)
    # when
    reverted = await revert(gql)
    # then
    assert reverted["payment"]["status"] == "REVERTED"
    assert reverted["payment"]["refundedAmount"] == {"amount": 2500}
    assert reverted["payment"]["transferReversedAmount"] == {"amount": 2250}
    stripe = await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"])
    assert sorted(r.amount for r in stripe["refunds"]) == [500, 2000]


async def test_a_late_capture_event_does_not_undo_a_refund(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    held = await authorize(gql)
    await release(gql)
    await refund(gql, held["payment"]["id"], amount=500)
    # when: the capture's event arrives again, late
    for event in sandbox.events_of("payment_intent.succeeded"):
        await services.inbox.handlers.handle(event)
    # then
    assert (await payment(gql, held["payment"]["id"]))["status"] == "PARTIALLY_REFUNDED"


async def test_a_partially_captured_escrow_counts_only_its_own_refunds(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given: 5000 held, 4000 captured (400 fee, 3600 to the runner); Stripe shows the
    # released 1000 as refunded on the charge, with no refund object
    account = await runner_account(sandbox)
    held = await authorize(gql, amount=5000)
    released = await release(gql, amount=4000, runnerAccountId=account)
    payment_id = held["payment"]["id"]
    intent_id = held["payment"]["stripePaymentIntentId"]
    assert released["payment"]["transferredAmount"] == {"amount": 3600}
    charge = (await stripe_view(sandbox, intent_id))["intent"].latest_charge
    charge = sandbox.get(charge)
    assert (charge["amount_captured"], charge["amount_refunded"]) == (4000, 1000)

    # when: 1000 is refunded, then more than what is left is asked for
    first = await refund(gql, payment_id, amount=1000, key="r1")
    too_much = await refund(gql, payment_id, amount=3001, key="r2")
    await sandbox.webhooks.wait_idle()
    for event in sandbox.events_of("charge.refunded"):  # replayed: nothing changes
        await services.inbox.handlers.handle(event)

    # then: our numbers count our refunds only, while Stripe's charge shows 2000 refunded
    assert first["payment"]["status"] == "PARTIALLY_REFUNDED"
    assert too_much["__typename"] == "ValidationError", too_much
    assert "3000 left" in too_much["message"]
    after = await order_status(gql)
    assert (after["status"], after["refundedAmount"]["amount"]) == ("PARTIALLY_REFUNDED", 1000)
    assert after["transferReversedAmount"] == {"amount": 900}
    refunded = sandbox.events_of("charge.refunded")[-1]["data"]["object"]
    assert (refunded["amount_refunded"], refunded["refunded"]) == (2000, False)

    # when: the order is reverted
    reverted = await revert(gql)
    await sandbox.webhooks.wait_idle()
    for event in sandbox.events_of("charge.refunded"):
        await services.inbox.handlers.handle(event)

    # then: all 4000 captured comes back, the runner's 3600 too, and Stripe's charge is
    # refunded in full (5000: the released 1000 and our 4000)
    assert reverted["payment"]["status"] == "REVERTED"
    assert reverted["payment"]["refundedAmount"] == {"amount": 4000}
    assert reverted["payment"]["transferReversedAmount"] == {"amount": 3600}
    final = await order_status(gql)
    assert (final["status"], final["refundedAmount"]["amount"]) == ("REVERTED", 4000)
    assert final["capturedAmount"] == {"amount": 4000}
    stripe = await stripe_view(sandbox, intent_id)
    assert sorted(r.amount for r in stripe["refunds"]) == [1000, 3000]
    charge = sandbox.get(charge["id"])
    assert (charge["amount_refunded"], charge["refunded"]) == (5000, True)
