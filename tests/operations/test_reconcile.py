"""The reconciliation sweep: lost webhooks, half-done releases and reverts, refunds that met a
Stripe outage. Each repair goes through the same code and keys as the original call, so a
second pass changes nothing."""

from __future__ import annotations

import asyncio

from graphql_payments.operations.reconcile import Report
from graphql_payments.operations.verify import verify_with_stripe
from graphql_payments.payments.models import PaymentStatus
from graphql_payments.refunds.models import RefundStatus
from graphql_payments.refunds.repository import pending_for_payment
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from graphql_payments.webhooks.models import EventStatus, WebhookEvent
from tests.escrow.flows import authorize, release, revert, runner_account, stripe_view
from tests.helpers import GraphQLClient, as_admin, checkout
from tests.operations.conftest import lose_webhooks, stored_payment, stored_refund

REFUND = """
mutation($input: RefundInput!) {
  refund(input: $input) {
    __typename
    ... on RefundSuccess { refund { id status } }
    ... on PaymentProviderError { code retryable }
  }
}
"""


async def paid_purchase(
    gql: GraphQLClient, sandbox: Sandbox, services: Services, key: str = "buy-1"
) -> str:
    result = await checkout(gql, "alice", key=key)
    await sandbox.pay_checkout_session(result["sessionId"])
    await sandbox.webhooks.wait_idle()
    return str(result["payment"]["id"])


async def refund_now(gql: GraphQLClient, payment_id: str, key: str = "r-1") -> dict[str, object]:
    variables = {"input": {"paymentId": payment_id, "idempotencyKey": key}}
    data = await gql.data(REFUND, variables, headers=as_admin())
    result: dict[str, object] = data["refund"]
    return result


async def test_a_paid_checkout_whose_webhooks_were_lost_is_credited_once(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given: Stripe holds the payment as paid, but no event reached us
    lose_webhooks(sandbox)
    payment_id = await paid_purchase(gql, sandbox, services)
    assert (await stored_payment(services, payment_id)).status is PaymentStatus.PENDING
    differences = await verify_with_stripe(services.db, services.gateway)
    assert any(payment_id in line and "PENDING" in line for line in differences)
    # when
    report = await services.reconciler.run()
    # then: the events were caught up through the inbox and the payment credited
    assert (await stored_payment(services, payment_id)).status is PaymentStatus.SUCCEEDED
    assert any(r.kind == "event" and "checkout.session.completed" in r.detail
               for r in report.repairs)  # fmt: skip
    async with services.db.reading() as session:
        stored = await session.get(WebhookEvent, next(r.target for r in report.repairs))
    assert stored is not None
    assert stored.status in (EventStatus.HANDLED, EventStatus.IGNORED)
    assert await services.credits.verify_ledger() == []
    assert await verify_with_stripe(services.db, services.gateway) == []
    # and: a second pass changes nothing
    again = await services.reconciler.run()
    assert again.repairs == []


async def test_a_stale_payment_is_asked_of_stripe(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    lose_webhooks(sandbox)
    payment_id = await paid_purchase(gql, sandbox, services)
    await services.reconciler.run()
    # when: only the stale-payment sweep runs (no events caught up)
    payment_id_2 = await paid_purchase(gql, sandbox, services, key="buy-2")
    report = Report()
    await services.reconciler.stale_payments(report)
    # then
    assert [str(r) for r in report.repairs] == [f"payment {payment_id_2}: PENDING -> SUCCEEDED"]
    assert (await stored_payment(services, payment_id)).status is PaymentStatus.SUCCEEDED


async def test_a_refund_left_pending_by_a_stripe_outage_is_sent_again_with_its_key(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    payment_id = await paid_purchase(gql, sandbox, services)
    sandbox.faults.fail_api(500, path_prefix="/v1/refunds")
    failed = await refund_now(gql, payment_id)
    assert failed == {"__typename": "PaymentProviderError", "code": "STRIPE_ERROR",
                      "retryable": True}  # fmt: skip
    payment = await stored_payment(services, payment_id)
    assert payment.status is PaymentStatus.SUCCEEDED
    sandbox.faults.clear()
    # when
    report = await services.reconciler.run()
    await sandbox.webhooks.wait_idle()
    # then
    assert [r.kind for r in report.repairs if r.kind == "refund"] == ["refund"]
    assert (await stored_payment(services, payment_id)).status is PaymentStatus.REFUNDED
    assert len(sandbox.objects("refund")) == 1
    assert await verify_with_stripe(services.db, services.gateway) == []


async def test_a_refund_stripe_never_confirms_fails_after_bounded_attempts(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given: refunds fail at Stripe for longer than the attempts allowed (2 in these tests)
    payment_id = await paid_purchase(gql, sandbox, services)
    sandbox.faults.fail_api(500, path_prefix="/v1/refunds")
    await refund_now(gql, payment_id)
    for _ in range(2):
        await services.reconciler.run()
        await asyncio.sleep(0.1)
    async with services.db.reading() as session:
        pending = await pending_for_payment(session, payment_id)
    assert pending is not None
    # when: Stripe answers again, the next attempt finds no refund there and gives up
    sandbox.faults.clear()
    report = await services.reconciler.run()
    # then: the refund FAILED and its amount is free again
    assert any("gave up" in r.detail for r in report.repairs), report
    assert (await stored_refund(services, pending.id)).status is RefundStatus.FAILED
    payment = await stored_payment(services, payment_id)
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.SUCCEEDED, 0)
    second = await refund_now(gql, payment_id, key="r-2")
    assert second["__typename"] == "RefundSuccess"


async def test_a_release_interrupted_after_the_capture_pays_the_runner(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given: the capture went through, the transfer met an outage
    account = await runner_account(sandbox)
    authorized = await authorize(gql)
    sandbox.faults.fail_api(503, path_prefix="/v1/transfers")
    first = await release(gql, runnerAccountId=account)
    assert first["__typename"] == "PaymentProviderError"
    payment_id = authorized["payment"]["id"]
    half = await stored_payment(services, payment_id)
    assert (half.pending_operation, half.captured_amount) == ("release", 2500)
    sandbox.faults.clear()
    # when
    report = await services.reconciler.run()
    # then
    assert [str(r) for r in report.repairs if r.kind == "operation"] == [
        f"operation {payment_id}: release resumed: RELEASED"
    ]
    done = await stored_payment(services, payment_id)
    assert (done.status, done.pending_operation) == (PaymentStatus.RELEASED, None)
    view = await stripe_view(sandbox, authorized["payment"]["stripePaymentIntentId"])
    assert [t.id for t in view["transfers"]] == [done.transfer_id]
    assert (await services.reconciler.run()).repairs == []


async def test_a_revert_interrupted_before_its_refund_is_finished(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    account = await runner_account(sandbox)
    authorized = await authorize(gql)
    assert (await release(gql, runnerAccountId=account))["__typename"] == "ReleaseSuccess"
    sandbox.faults.fail_api(500, path_prefix="/v1/refunds")
    assert (await revert(gql))["__typename"] == "PaymentProviderError"
    sandbox.faults.clear()
    # when
    await services.reconciler.run()
    await sandbox.webhooks.wait_idle()
    # then: refunded in full and the runner's transfer reversed
    payment = await stored_payment(services, authorized["payment"]["id"])
    assert (payment.status, payment.pending_operation) == (PaymentStatus.REVERTED, None)
    assert payment.transfer_reversed_amount == payment.transferred_amount
    assert await verify_with_stripe(services.db, services.gateway) == []


async def test_a_revert_whose_refund_stripe_never_confirms_is_given_up(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given: a released order whose revert meets refunds failing for longer than allowed
    account = await runner_account(sandbox)
    authorized = await authorize(gql)
    assert (await release(gql, runnerAccountId=account))["__typename"] == "ReleaseSuccess"
    sandbox.faults.fail_api(500, path_prefix="/v1/refunds")
    assert (await revert(gql))["__typename"] == "PaymentProviderError"
    for _ in range(2):
        await services.reconciler.run()
        await asyncio.sleep(0.1)
    sandbox.faults.clear()
    # when
    report = await services.reconciler.run()
    # then: the refund FAILED, the order stays released and may be reverted again
    assert [r.kind for r in report.errors] == ["operation"]
    payment = await stored_payment(services, authorized["payment"]["id"])
    assert (payment.status, payment.pending_operation) == (PaymentStatus.RELEASED, None)
    assert sandbox.objects("refund") == []
    assert (await revert(gql))["__typename"] == "RevertSuccess"
    assert await verify_with_stripe(services.db, services.gateway) == []
