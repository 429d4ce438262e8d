"""Stripe misbehaving (5xx, timeouts, latency, a webhook endpoint failing longer than its
retries) ends, after reconciliation, in the same state Stripe holds."""

from __future__ import annotations

import asyncio

from graphql_payments.ledger import invariants
from graphql_payments.operations.verify import verify_with_stripe
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.escrow.flows import authorize, release, revert, runner_account
from tests.helpers import GraphQLClient, as_admin, checkout

REFUND = "mutation($i: RefundInput!) { refund(input: $i) { __typename } }"


async def test_a_burst_under_stripe_faults_converges(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given: paid purchases and held orders
    sessions = [(await checkout(gql, f"user-{n}", key=f"k-{n}")) for n in range(6)]
    for result in sessions[:3]:
        await sandbox.pay_checkout_session(result["sessionId"])
    account = await runner_account(sandbox)
    for n in range(3):
        await authorize(gql, order=f"order-{n}", user=f"buyer-{n}")
    await sandbox.webhooks.wait_idle()
    # when: the webhook endpoint fails for longer than Stripe retries, and the API has 5xx,
    # timeouts and latency while payments, releases, reverts and refunds go on
    sandbox.webhooks.fail_next(1000)
    sandbox.faults.fail_api(500, count=2)
    sandbox.faults.api_latency(3.0, count=1)  # longer than the server's 2 s Stripe timeout
    for result in sessions[3:]:
        await sandbox.pay_checkout_session(result["sessionId"])
    await release(gql, order="order-0", runnerAccountId=account)
    await release(gql, order="order-1", runnerAccountId=account)
    await revert(gql, order="order-2")
    for n, result in enumerate(sessions[:3]):
        variables = {"i": {"paymentId": result["payment"]["id"], "idempotencyKey": f"r-{n}"}}
        await gql.data(REFUND, variables, headers=as_admin())
    await sandbox.webhooks.wait_idle(timeout=30)
    sandbox.webhooks.clear()
    assert await verify_with_stripe(services.db, services.gateway) != []
    sandbox.faults.api_latency(0.05)
    # then: a few reconciliation passes bring everything in line with Stripe
    for _ in range(4):
        await services.reconciler.run()
        await asyncio.sleep(0.05)
    sandbox.faults.clear()
    await services.reconciler.run()
    await sandbox.webhooks.wait_idle()
    assert await verify_with_stripe(services.db, services.gateway) == []
    assert await invariants.verify(services.db) == []
