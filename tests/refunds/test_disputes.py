"""Disputes: the payment is DISPUTED while open; credits are held, then kept or given back."""

from __future__ import annotations

from graphql_payments.sandbox import Sandbox
from tests.helpers import GraphQLClient, balance
from tests.refunds.flows import buy, charge_of, open_dispute, payment


async def test_a_lost_dispute_holds_then_takes_the_credits(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    paid = await buy(gql, sandbox)
    # when
    dispute = await open_dispute(gql, sandbox, paid)
    # then: held while open
    during = await payment(gql, paid["id"])
    assert during["status"] == "DISPUTED"
    assert during["disputes"][0]["status"] == "needs_response"
    assert during["disputes"][0]["creditsHeld"] == 100
    assert during["disputes"][0]["reason"] == "fraudulent"
    assert await balance(gql) == 0
    # when
    await sandbox.close_dispute(dispute["id"], won=False)
    await sandbox.webhooks.wait_idle()
    # then: the bank kept the money, the credits stay taken
    after = await payment(gql, paid["id"])
    assert after["disputes"][0]["status"] == "lost"
    assert after["status"] == "REFUNDED"
    assert await balance(gql) == 0


async def test_a_won_dispute_releases_the_credits(gql: GraphQLClient, sandbox: Sandbox) -> None:
    # given
    paid = await buy(gql, sandbox)
    dispute = await open_dispute(gql, sandbox, paid, amount=500)
    assert await balance(gql) == 50
    # when
    await sandbox.close_dispute(dispute["id"], won=True)
    await sandbox.webhooks.wait_idle()
    # then
    after = await payment(gql, paid["id"])
    assert after["status"] == "SUCCEEDED"
    assert after["disputes"][0]["status"] == "won"
    assert await balance(gql) == 100


async def test_duplicated_and_reordered_dispute_webhooks_settle_once(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given: the whole dispute happens while deliveries are held
    paid = await buy(gql, sandbox)
    sandbox.webhooks.hold()
    charge = await charge_of(sandbox, paid["stripePaymentIntentId"])
    dispute = await sandbox.create_dispute(charge["id"], reason="fraudulent")
    await sandbox.close_dispute(dispute["id"], won=True)
    # when: the closing event arrives first, and everything twice
    sandbox.webhooks.duplicate(times=2)
    sandbox.webhooks.release(order="reverse")
    await sandbox.webhooks.wait_idle()
    # then
    after = await payment(gql, paid["id"])
    assert after["status"] == "SUCCEEDED"
    assert [d["status"] for d in after["disputes"]] == ["won"]
    assert await balance(gql) == 100
