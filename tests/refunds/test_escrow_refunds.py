"""Refunding a released escrow payment reverses the runner's transfer in proportion."""

from __future__ import annotations

import pytest

from graphql_payments.config import Settings
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.escrow.flows import authorize, release, revert, runner_account, stripe_view
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
