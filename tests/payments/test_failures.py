"""Failed attempts are kept with Stripe's codes and listed for admins."""

from __future__ import annotations

import datetime as dt

from graphql_payments.sandbox import Sandbox
from tests.escrow.flows import authorize
from tests.helpers import FAILURES, GraphQLClient, as_admin, as_user, checkout, error_codes
from tests.refunds.flows import buy, refund

FAILED_HISTORY = "query { paymentHistory(status: [FAILED]) { edges { node { id kind } } } }"


async def test_every_failed_attempt_is_listed_once(gql: GraphQLClient, sandbox: Sandbox) -> None:
    # given: an escrow decline, a checkout decline (twice delivered) that then expires,
    # and a refund the bank returns
    sandbox.webhooks.duplicate(times=2)
    declined = await authorize(gql, payment_method="pm_card_chargeDeclinedInsufficientFunds")
    open_checkout = await checkout(gql, key="c1")
    await sandbox.pay_checkout_session(open_checkout["sessionId"], card="4000000000000002")
    await sandbox.advance_clock(25 * 3600)
    sandbox.webhooks.duplicate(times=1)
    paid = await buy(gql, sandbox, key="c2")
    refunded = await refund(gql, paid["id"])
    await sandbox.webhooks.wait_idle()
    await sandbox.fail_refund(refunded["refund"]["stripeRefundId"])
    await sandbox.webhooks.wait_idle()
    # when
    data = await gql.data(FAILURES, headers=as_admin())
    # then
    failures = data["failedPayments"]
    seen = sorted(
        (e["node"]["source"], e["node"]["code"], e["node"]["declineCode"])
        for e in failures["edges"]
    )
    assert seen == [
        ("CHECKOUT_EXPIRED", "expired", None),
        ("PAYMENT_ATTEMPT", "card_declined", "generic_decline"),
        ("PAYMENT_ATTEMPT", "card_declined", "insufficient_funds"),
        ("REFUND", "expired_or_canceled_card", None),
    ]
    assert failures["totalCount"] == 4
    assert all(e["node"]["message"] for e in failures["edges"])
    assert declined["__typename"] == "PaymentProviderError"
    history = await gql.data(FAILED_HISTORY, headers=as_user("alice"))
    [failed] = [e["node"] for e in history["paymentHistory"]["edges"]]
    assert failed["kind"] == "ESCROW"


async def test_failed_payments_pages_filters_and_is_for_admins(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    for n in range(3):
        await authorize(gql, order=f"o{n}", payment_method="pm_card_chargeDeclined")
    # when
    first = (await gql.data(FAILURES, {"first": 2}, headers=as_admin()))["failedPayments"]
    after = first["pageInfo"]["endCursor"]
    second = await gql.data(FAILURES, {"first": 2, "after": after}, headers=as_admin())
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    none = await gql.data(FAILURES, {"since": future.isoformat()}, headers=as_admin())
    forbidden = await gql(FAILURES, headers=as_user("alice"))
    # then
    assert len(first["edges"]) == 2
    assert first["pageInfo"]["hasNextPage"] is True
    assert len(second["failedPayments"]["edges"]) == 1
    assert none["failedPayments"]["totalCount"] == 0
    assert error_codes(forbidden) == ["FORBIDDEN"]
