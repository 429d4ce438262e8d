"""Paying the runner: accounts that cannot receive transfers, transfers and reversals that
Stripe refuses, and paying a runner after the capture."""

from __future__ import annotations

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
from tests.helpers import FAILURES, GraphQLClient, as_admin, sandbox_client


async def failures(gql: GraphQLClient) -> list[tuple[str, str | None]]:
    data = await gql.data(FAILURES, headers=as_admin())
    return sorted((e["node"]["source"], e["node"]["code"]) for e in data["failedPayments"]["edges"])


async def test_an_account_that_cannot_receive_transfers_is_refused_before_the_capture(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    held = await authorize(gql)
    cards_only = await sandbox_client(sandbox).v1.accounts.create_async(
        params={"type": "express", "capabilities": {"card_payments": {"requested": True}}}
    )
    # when
    unknown = await release(gql, runnerAccountId="acct_doesnotexist")
    not_ready = await release(gql, runnerAccountId=cards_only.id)
    sandbox.faults.fail_api(status=500, path_prefix="/v1/accounts")
    stripe_down = await release(gql, runnerAccountId=cards_only.id)
    sandbox.faults.clear()
    # then: typed errors, and nothing captured
    for refused in (unknown, not_ready):
        assert refused["__typename"] == "ValidationError", refused
        assert refused["field"] == "runnerAccountId"
    assert stripe_down["__typename"] == "PaymentProviderError", stripe_down
    assert (await order_status(gql))["status"] == "AUTHORIZED"
    intent = (await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"]))["intent"]
    assert intent.status == "requires_capture"
    # and a good account is paid as usual
    released = await release(gql, runnerAccountId=await runner_account(sandbox))
    assert released["payment"]["transferredAmount"] == {"amount": 2250}


async def test_a_transfer_refused_after_the_capture_releases_and_the_runner_is_paid_later(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    account = await runner_account(sandbox)
    held = await authorize(gql)
    sandbox.faults.fail_api(status=400, path_prefix="/v1/transfers")
    # when
    refused = await release(gql, runnerAccountId=account)
    sandbox.faults.clear()
    # then: the capture stands, the runner is not paid, and the failure is kept
    assert refused["__typename"] == "PaymentProviderError", refused
    assert "captured" in refused["message"]
    payment = await order_status(gql)
    assert payment["status"] == "RELEASED"
    assert payment["capturedAmount"] == {"amount": 2500}
    assert payment["transferId"] is None
    assert await failures(gql) == [("TRANSFER", None)]
    stripe = await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"])
    assert stripe["intent"].amount_received == 2500
    assert stripe["transfers"] == []

    # when: released again, the runner is paid, once, with no second capture
    paid = await release(gql, runnerAccountId=account)
    events = len(sandbox.events)
    again = await release(gql, runnerAccountId=account)
    # then
    assert paid["__typename"] == "ReleaseSuccess", paid
    assert paid["payment"]["transferredAmount"] == {"amount": 2250}
    assert again == paid
    assert len(sandbox.events) == events
    stripe = await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"])
    [transfer] = stripe["transfers"]
    assert transfer.amount == 2250
    assert transfer.source_transaction == stripe["intent"].latest_charge
    assert len(sandbox.objects("charge")) == 1


async def test_a_runner_without_an_account_at_release_is_paid_later(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given: released with no account, and a partial capture
    await authorize(gql, amount=4000)
    released = await release(gql, amount=3000)
    assert released["payment"]["transferId"] is None
    account = await runner_account(sandbox)
    # when
    wrong_amount = await release(gql, runnerAccountId=account, amount=4000)
    paid = await release(gql, runnerAccountId=account)
    # then
    assert wrong_amount["__typename"] == "ValidationError"
    assert paid["payment"]["capturedAmount"] == {"amount": 3000}
    assert paid["payment"]["transferredAmount"] == {"amount": 2700}
    [transfer] = sandbox.objects("transfer")
    assert transfer["destination"] == account


async def test_a_refused_transfer_reversal_still_reverts_and_is_kept(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given: the runner's transfer was already taken back in the Stripe dashboard
    account = await runner_account(sandbox)
    held = await authorize(gql)
    released = await release(gql, runnerAccountId=account)
    transfer_id = released["payment"]["transferId"]
    await sandbox_client(sandbox).v1.transfers.reversals.create_async(transfer_id)
    await sandbox.webhooks.wait_idle()
    # when
    reverted = await revert(gql)
    await sandbox.webhooks.wait_idle()
    # then: the customer is refunded; the refused reversal is kept, once, and not retried
    assert reverted["__typename"] == "RevertSuccess", reverted
    assert reverted["payment"]["status"] == "REVERTED"
    assert reverted["payment"]["refundedAmount"] == {"amount": 2500}
    assert await failures(gql) == [("TRANSFER_REVERSAL", "amount_too_large")]
    assert len(sandbox.objects("transfer_reversal")) == 1
    stripe = await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"])
    assert [r.amount for r in stripe["refunds"]] == [2500]
    assert await revert(gql) == reverted
    # and asking again does not reach Stripe (its transfer endpoints are down now)
    sandbox.faults.fail_api(status=500, path_prefix="/v1/transfers")
    refunds = await gql.data(
        'query { paymentStatus(orderId: "order-1") { refunds { id } } }', headers=as_admin()
    )
    [ours] = refunds["paymentStatus"]["refunds"]
    await services.refunds.reverse_transfer(ours["id"])
