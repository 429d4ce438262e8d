"""Escrow for marketplace orders through GraphQL: authorize, release, revert, against the
sandbox behind the real Stripe SDK."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.escrow.flows import (
    AUTHORIZE,
    BY_ORDER,
    RELEASE,
    REVERT,
    authorize,
    release,
    revert,
    runner_account,
    stripe_view,
)
from tests.helpers import GraphQLClient, as_admin, as_user, error_codes


async def test_authorize_then_release_captures_once_and_pays_the_runner(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    account = await runner_account(sandbox)
    held = await authorize(gql)
    assert held["__typename"] == "AuthorizeSuccess", held
    assert held["payment"]["status"] == "AUTHORIZED"
    assert held["payment"]["holdExpiresAt"]
    # when
    released = await release(gql, runnerAccountId=account)
    # then: 10% platform fee, the rest to the runner
    assert released["__typename"] == "ReleaseSuccess", released
    payment = released["payment"]
    assert payment["status"] == "RELEASED"
    assert payment["capturedAmount"] == {"amount": 2500}
    assert payment["platformFee"] == {"amount": 250}
    assert payment["transferredAmount"] == {"amount": 2250}
    assert payment["runnerId"] == "runner-7"
    stripe = await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"])
    assert stripe["intent"].status == "succeeded"
    assert stripe["intent"].amount_received == 2500
    [transfer] = stripe["transfers"]
    assert transfer.id == payment["transferId"]
    assert transfer.amount == 2250
    assert transfer.destination == account
    assert transfer.transfer_group == "order-1"
    assert transfer.source_transaction == stripe["intent"].latest_charge


async def test_a_partial_release_captures_less_and_releases_the_rest(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    held = await authorize(gql, amount=4000)
    # when
    released = await release(gql, amount=1500)
    # then
    assert released["payment"]["capturedAmount"] == {"amount": 1500}
    assert released["payment"]["platformFee"] == {"amount": 150}
    assert released["payment"]["transferId"] is None  # no runner account given
    intent = (await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"]))["intent"]
    assert intent.amount_received == 1500
    assert intent.amount_capturable == 0


async def test_revert_before_release_cancels_the_hold(gql: GraphQLClient, sandbox: Sandbox) -> None:
    # given
    held = await authorize(gql)
    # when
    reverted = await revert(gql)
    # then
    assert reverted["payment"]["status"] == "REVERTED"
    intent = (await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"]))["intent"]
    assert intent.status == "canceled"
    assert intent.amount_received == 0


async def test_revert_after_release_refunds_and_reverses_the_transfer(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    account = await runner_account(sandbox)
    held = await authorize(gql)
    await release(gql, runnerAccountId=account)
    # when
    reverted = await revert(gql)
    again = await revert(gql)
    released_again = await release(gql, runnerAccountId=account)
    # then
    payment = reverted["payment"]
    assert payment["status"] == "REVERTED"
    assert payment["refundedAmount"] == {"amount": 2500}
    assert payment["transferReversedAmount"] == {"amount": 2250}
    assert again == reverted
    assert released_again["__typename"] == "InvalidStatusError"
    stripe = await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"])
    assert [r.amount for r in stripe["refunds"]] == [2500]
    [transfer] = stripe["transfers"]
    assert transfer.amount_reversed == 2250


async def test_release_twice_makes_no_second_stripe_call(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    account = await runner_account(sandbox)
    held = await authorize(gql)
    first = await release(gql, runnerAccountId=account)
    requests = len(sandbox.events)
    # when
    second = await release(gql, runnerAccountId=account)
    # then
    assert second == first
    assert len(sandbox.events) == requests
    stripe = await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"])
    assert len(stripe["transfers"]) == 1


async def test_three_d_secure_waits_for_the_customer_then_the_webhook_authorizes(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    held = await authorize(gql, payment_method="pm_card_threeDSecure2Required")
    assert held["payment"]["status"] == "REQUIRES_ACTION"
    assert held["clientSecret"]
    assert held["nextActionUrl"]
    # when: the customer completes the challenge
    await sandbox.complete_authentication(held["payment"]["stripePaymentIntentId"])
    await sandbox.webhooks.wait_idle()
    # then
    status = await gql.data(BY_ORDER, {"o": "order-1"}, headers=as_user("alice"))
    assert status["paymentStatus"]["status"] == "AUTHORIZED"


@pytest.mark.parametrize(
    ("payment_method", "code", "decline_code"),
    [
        ("pm_card_chargeDeclined", "CARD_DECLINED", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "INSUFFICIENT_FUNDS", "insufficient_funds"),
        ("pm_card_chargeCustomerFail", "CARD_DECLINED", "generic_decline"),
    ],
)
async def test_declines_are_typed_errors_and_hold_nothing(
    gql: GraphQLClient,
    sandbox: Sandbox,
    payment_method: str,
    code: str,
    decline_code: str,
) -> None:
    # when
    declined = await authorize(gql, payment_method=payment_method)
    # then
    assert declined["__typename"] == "PaymentProviderError", declined
    assert declined["code"] == code
    assert declined["declineCode"] == decline_code
    status = await gql.data(BY_ORDER, {"o": "order-1"}, headers=as_user("alice"))
    payment = status["paymentStatus"]
    assert payment["status"] == "FAILED"
    assert payment["declineCode"] == decline_code
    intents = sandbox.objects("payment_intent")
    assert all(i["amount_capturable"] == 0 and i["amount_received"] == 0 for i in intents)
    # and the same key says the same; a new key may try another card
    assert await authorize(gql, payment_method=payment_method) == declined
    retried = await authorize(gql, key="second-try")
    assert retried["payment"]["status"] == "AUTHORIZED"


async def test_a_lapsed_hold_expires_and_cannot_be_released(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    held = await authorize(gql)
    # when: seven days pass
    await sandbox.advance_clock(7 * 24 * 3600 + 3600)
    await sandbox.webhooks.wait_idle()
    released = await release(gql)
    # then
    status = await gql.data(BY_ORDER, {"o": "order-1"}, headers=as_user("alice"))
    assert status["paymentStatus"]["status"] == "EXPIRED"
    assert released["__typename"] == "InvalidStatusError"
    assert released["code"] == "INVALID_STATUS"
    intent = (await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"]))["intent"]
    assert intent.status == "canceled"
    assert intent.cancellation_reason == "automatic"
    assert intent.amount_received == 0


async def test_release_racing_revert_applies_consistently(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    account = await runner_account(sandbox)
    refused = 0
    for n in range(20):
        # given
        order = f"race-{n}"
        held = await authorize(gql, order=order)
        # when
        released, reverted = await asyncio.gather(
            release(gql, order, runnerAccountId=account), revert(gql, order)
        )
        # then
        outcomes = {released["__typename"], reverted["__typename"]}
        refused += "InvalidStatusError" in outcomes
        assert outcomes <= {"ReleaseSuccess", "RevertSuccess", "InvalidStatusError"}
        assert outcomes & {"ReleaseSuccess", "RevertSuccess"}
        stripe = await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"])
        assert len(stripe["transfers"]) <= 1
        final = (await gql.data(BY_ORDER, {"o": order}, headers=as_admin()))["paymentStatus"]
        if reverted["__typename"] == "RevertSuccess":
            assert final["status"] == "REVERTED"
            refunded = sum(r.amount for r in stripe["refunds"])
            assert refunded == stripe["intent"].amount_received
            assert all(t.amount_reversed == t.amount for t in stripe["transfers"])
        else:
            assert released["__typename"] == "ReleaseSuccess"
            assert final["status"] == "RELEASED"
            assert stripe["intent"].amount_received == 2500
            assert stripe["refunds"] == []
    assert refused  # the two really overlapped, and one was turned away


async def test_one_live_escrow_per_order(gql: GraphQLClient, sandbox: Sandbox) -> None:
    # given
    first = await authorize(gql, key="a")
    # when
    same_key = await authorize(gql, key="a")
    other_key = await authorize(gql, key="b")
    concurrent = await asyncio.gather(
        *(authorize(gql, order="order-2", key=f"c{n}") for n in range(5))
    )
    # then
    assert same_key["payment"]["id"] == first["payment"]["id"]
    assert other_key["__typename"] == "InvalidStatusError"
    assert sorted(r["__typename"] for r in concurrent).count("AuthorizeSuccess") == 1
    assert len(sandbox.objects("customer")) == 1  # one Stripe customer for the user


async def test_only_admins_release_and_revert_and_users_authorize_for_themselves(
    gql: GraphQLClient,
) -> None:
    # given
    await authorize(gql)
    variables = {"input": {"orderId": "order-1"}}
    # when
    user_release = await gql(RELEASE, variables, headers=as_user("alice"))
    user_revert = await gql(REVERT, variables, headers=as_user("alice"))
    for_other = await gql(
        AUTHORIZE,
        {
            "input": {
                "orderId": "order-9",
                "amount": 100,
                "currency": "usd",
                "paymentMethodId": "pm_card_visa",
                "idempotencyKey": "x",
                "userId": "bob",
            }
        },
        headers=as_user("alice"),
    )
    on_behalf = await authorize(gql, order="order-9", headers=as_admin(), userId="bob")
    # then
    assert error_codes(user_release) == ["FORBIDDEN"]
    assert error_codes(user_revert) == ["FORBIDDEN"]
    assert error_codes(for_other) == ["FORBIDDEN"]
    assert on_behalf["payment"]["userId"] == "bob"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"order": " "}, "orderId"),
        ({"payment_method": ""}, "paymentMethodId"),
    ],
)
async def test_bad_authorize_input_changes_nothing(
    gql: GraphQLClient, sandbox: Sandbox, services: Services, overrides: dict[str, Any], field: str
) -> None:
    result = await authorize(gql, **overrides)
    assert result["__typename"] == "ValidationError", result
    assert result["field"] == field
    assert sandbox.objects("payment_intent") == []
    assert (await services.credits.verify_ledger()) == []


async def test_release_above_the_hold_is_refused_and_changes_nothing(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given
    held = await authorize(gql, amount=1000)
    # when
    too_much = await release(gql, amount=1001)
    unknown = await release(gql, "no-such-order")
    # then
    assert too_much["__typename"] == "ValidationError"
    assert too_much["field"] == "amount"
    assert unknown["__typename"] == "NotFoundError"
    intent = (await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"]))["intent"]
    assert intent.status == "requires_capture"
    assert (await release(gql))["payment"]["status"] == "RELEASED"


async def test_zero_decimal_currencies_are_whole_units(
    gql: GraphQLClient, sandbox: Sandbox
) -> None:
    # given: 5,000 yen, which Stripe counts in yen, not hundredths
    held = await authorize(gql, amount=5000, currency="jpy")
    # when
    released = await release(gql, amount=4999)
    # then
    assert held["payment"]["amount"] == {"amount": 5000, "currency": "JPY"}
    assert released["payment"]["capturedAmount"] == {"amount": 4999}
    assert released["payment"]["platformFee"] == {"amount": 500}  # 499.9 rounded up
    intent = (await stripe_view(sandbox, held["payment"]["stripePaymentIntentId"]))["intent"]
    assert intent.currency == "jpy"
    assert intent.amount_received == 4999
    status = await gql.data(BY_ORDER, {"o": "order-1"}, headers=as_user("alice"))
    assert status["paymentStatus"]["amount"]["formatted"] == "5,000 JPY"
