"""Refunds through GraphQL and at Stripe: totals, statuses, credits and transfers."""

from __future__ import annotations

import asyncio

from graphql_payments.ledger import repository as ledger
from graphql_payments.ledger.models import EntryReason
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.helpers import GraphQLClient, as_user, balance, error_codes, sandbox_client
from tests.refunds.flows import REFUND, buy, charge_of, payment, refund


async def test_a_full_refund_takes_back_every_credit(gql: GraphQLClient, sandbox: Sandbox) -> None:
    # given
    paid = await buy(gql, sandbox)
    # when
    result = await refund(gql, paid["id"])
    await sandbox.webhooks.wait_idle()
    # then
    assert result["__typename"] == "RefundSuccess", result
    assert result["refund"]["amount"] == {"amount": 1000, "currency": "USD"}
    assert result["refund"]["status"] == "SUCCEEDED"
    assert result["payment"]["status"] == "REFUNDED"
    assert result["payment"]["refundedAmount"]["amount"] == 1000
    assert await balance(gql) == 0
    charge = await charge_of(sandbox, paid["stripePaymentIntentId"])
    assert charge["amount_refunded"] == 1000
    # and the webhooks of our own refund count nothing twice
    after = await payment(gql, paid["id"])
    assert after["refundedAmount"]["amount"] == 1000
    assert len(after["refunds"]) == 1


async def test_partial_refunds_then_the_rest(gql: GraphQLClient, sandbox: Sandbox) -> None:
    # given
    paid = await buy(gql, sandbox)
    # when
    first = await refund(gql, paid["id"], amount=300, key="r1")
    # then
    assert first["payment"]["status"] == "PARTIALLY_REFUNDED"
    assert await balance(gql) == 70
    # when: no amount refunds what is left
    rest = await refund(gql, paid["id"], key="r2")
    # then
    assert rest["refund"]["amount"]["amount"] == 700
    assert rest["payment"]["status"] == "REFUNDED"
    assert await balance(gql) == 0


async def test_three_partial_refunds_summing_to_the_total(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    paid = await buy(gql, sandbox)
    balances = []
    # when: credits come back rounded down, cumulatively
    for n, amount in enumerate((333, 333, 334)):
        result = await refund(gql, paid["id"], amount=amount, key=f"r{n}")
        assert result["__typename"] == "RefundSuccess", result
        balances.append(await balance(gql))
    # then
    assert balances == [67, 34, 0]
    final = await payment(gql, paid["id"])
    assert final["status"] == "REFUNDED"
    assert [r["amount"]["amount"] for r in final["refunds"]] == [333, 333, 334]


async def test_over_refunds_are_refused_and_change_nothing(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    paid = await buy(gql, sandbox)
    # when
    too_much = await refund(gql, paid["id"], amount=1001, key="big")
    zero = await refund(gql, paid["id"], amount=0, key="zero")
    # then
    assert too_much["__typename"] == "ValidationError"
    assert too_much["field"] == "amount"
    assert zero["__typename"] == "ValidationError"
    assert (await payment(gql, paid["id"]))["refunds"] == []
    assert sandbox.objects("refund") == []
    # when: everything was refunded, nothing is left
    await refund(gql, paid["id"], key="all")
    again = await refund(gql, paid["id"], key="again")
    # then
    assert again["__typename"] == "AlreadyRefundedError"
    assert again["code"] == "ALREADY_REFUNDED"
    assert len(sandbox.objects("refund")) == 1


async def test_an_uncaptured_hold_is_not_refunded(gql: GraphQLClient) -> None:
    # given
    held = (
        await gql.data(
            """mutation { authorize(input: {orderId: "o-1", amount: 500, currency: "usd",
               paymentMethodId: "pm_card_visa", idempotencyKey: "h"}) {
               ... on AuthorizeSuccess { payment { id status } } } }""",
            headers=as_user("alice"),
        )
    )["authorize"]["payment"]
    assert held["status"] == "AUTHORIZED"
    # when
    result = await refund(gql, held["id"])
    missing = await refund(gql, "pay_nope", key="x")
    # then
    assert result["__typename"] == "InvalidStatusError"
    assert "reverted" in result["message"]
    assert missing["__typename"] == "NotFoundError"


async def test_only_admins_refund(gql: GraphQLClient, sandbox: Sandbox) -> None:
    paid = await buy(gql, sandbox)
    body = await gql(
        REFUND,
        {"input": {"paymentId": paid["id"], "idempotencyKey": "k"}},
        headers=as_user("alice"),
    )
    assert error_codes(body) == ["FORBIDDEN"]


async def test_insufficient_credits_unless_forced(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given: the customer used 50 of the 100 credits
    paid = await buy(gql, sandbox)
    async with services.db.transaction() as session:
        await ledger.add_entry(
            session,
            user_id="alice",
            delta=-50,
            reason=EntryReason.ADJUSTMENT,
            payment_id=None,
            reference="used",
        )
    # when
    refused = await refund(gql, paid["id"], key="plain")
    # then
    assert refused["__typename"] == "InsufficientCreditsError"
    assert refused["code"] == "INSUFFICIENT_CREDITS"
    assert sandbox.objects("refund") == []
    # when: an admin forces it
    forced = await refund(gql, paid["id"], key="forced", force=True)
    # then: the balance goes negative, and the next purchase pays it off first
    assert forced["payment"]["status"] == "REFUNDED"
    assert await balance(gql) == -50
    await buy(gql, sandbox, key="buy-2")
    assert await balance(gql) == 50


async def test_the_same_refund_twice_at_once_makes_one_stripe_refund(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    paid = await buy(gql, sandbox)
    # when
    results = await asyncio.gather(*(refund(gql, paid["id"], amount=400) for _ in range(2)))
    # then
    assert {r["__typename"] for r in results} == {"RefundSuccess"}
    assert len({r["refund"]["id"] for r in results}) == 1
    assert len(sandbox.objects("refund")) == 1
    assert (await payment(gql, paid["id"]))["refundedAmount"]["amount"] == 400


async def test_a_dashboard_refund_shows_up_like_ours(gql: GraphQLClient, sandbox: Sandbox) -> None:
    # given
    paid = await buy(gql, sandbox)
    # when: someone refunds 400 in the Stripe dashboard, and Stripe repeats its webhooks
    sandbox.webhooks.duplicate(times=3)
    await sandbox_client(sandbox).v1.refunds.create_async(
        params={"payment_intent": paid["stripePaymentIntentId"], "amount": 400}
    )
    await sandbox.webhooks.wait_idle()
    # then
    after = await payment(gql, paid["id"])
    assert after["status"] == "PARTIALLY_REFUNDED"
    assert after["refundedAmount"]["amount"] == 400
    assert [(r["amount"]["amount"], r["status"]) for r in after["refunds"]] == [(400, "SUCCEEDED")]
    assert await balance(gql) == 60
    # and refunding through us counts what is left
    rest = await refund(gql, paid["id"])
    assert rest["refund"]["amount"]["amount"] == 600


async def test_reordered_refund_webhooks_change_totals_once(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    paid = await buy(gql, sandbox)
    sandbox.webhooks.hold()
    await sandbox_client(sandbox).v1.refunds.create_async(
        params={"payment_intent": paid["stripePaymentIntentId"], "amount": 250}
    )
    # when: the events arrive newest first, twice
    sandbox.webhooks.duplicate(times=2)
    sandbox.webhooks.release(order="reverse")
    await sandbox.webhooks.wait_idle()
    # then
    after = await payment(gql, paid["id"])
    assert after["refundedAmount"]["amount"] == 250
    assert len(after["refunds"]) == 1
    assert await balance(gql) == 75


async def test_a_refund_that_fails_later_is_undone(gql: GraphQLClient, sandbox: Sandbox) -> None:
    # given
    paid = await buy(gql, sandbox)
    done = await refund(gql, paid["id"])
    await sandbox.webhooks.wait_idle()
    assert await balance(gql) == 0
    # when: the bank returns the refund
    await sandbox.fail_refund(done["refund"]["stripeRefundId"])
    await sandbox.webhooks.wait_idle()
    # then
    after = await payment(gql, paid["id"])
    assert after["status"] == "SUCCEEDED"
    assert after["refundedAmount"]["amount"] == 0
    assert after["refunds"][0]["status"] == "FAILED"
    assert after["refunds"][0]["failureReason"] == "expired_or_canceled_card"
    assert await balance(gql) == 100
    # and the money can be refunded again
    again = await refund(gql, paid["id"], key="second")
    assert again["payment"]["status"] == "REFUNDED"
    assert await balance(gql) == 0


async def test_a_late_success_event_does_not_undo_a_refund(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    paid = await buy(gql, sandbox)
    await refund(gql, paid["id"], amount=300)
    # when: the payment's success events arrive again, late
    for event in sandbox.events:
        if event["type"] in ("checkout.session.completed", "payment_intent.succeeded"):
            await services.inbox.handlers.handle(event)
    # then
    after = await payment(gql, paid["id"])
    assert after["status"] == "PARTIALLY_REFUNDED"
    assert await balance(gql) == 70
