"""Test cards behave as Stripe documents them, seen through the real SDK."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from graphql_payments.sandbox import Sandbox
from tests.sandbox.helpers import paid_intent, stripe_error

pytestmark = pytest.mark.anyio

SUCCEEDING = [
    ("4242424242424242", "visa"),
    ("5555555555554444", "mastercard"),
    ("378282246310005", "amex"),
    ("4000056655665556", "visa"),
]

DECLINING = [
    ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
    ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
    ("pm_card_chargeDeclinedLostCard", "card_declined", "lost_card"),
    ("pm_card_chargeDeclinedStolenCard", "card_declined", "stolen_card"),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"),
    ("pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error"),
    ("pm_card_radarBlock", "card_declined", "fraudulent"),
    ("pm_card_chargeCustomerFail", "card_declined", "generic_decline"),
]


async def card_pm(client: Any, number: str) -> Any:
    return await client.v1.payment_methods.create_async(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2040}}
    )


@pytest.mark.parametrize(("number", "brand"), SUCCEEDING)
async def test_succeeding_cards_charge(client: Any, number: str, brand: str) -> None:
    # given
    pm = await card_pm(client, number)

    # when
    intent = await paid_intent(client, payment_method=pm.id)

    # then
    assert intent.status == "succeeded"
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)
    assert charge.paid is True
    assert charge.captured is True
    assert charge.payment_method_details.card.brand == brand
    assert charge.payment_method_details.card.last4 == number[-4:]


@pytest.mark.parametrize(("payment_method", "code", "decline_code"), DECLINING)
async def test_declining_cards_raise_card_error(
    client: Any, sandbox: Sandbox, payment_method: str, code: str, decline_code: str
) -> None:
    # given
    metadata = {"order": "42"}

    # when
    with pytest.raises(stripe.CardError) as raised:
        await paid_intent(client, amount=1500, payment_method=payment_method, metadata=metadata)

    # then
    assert raised.value.http_status == 402
    assert raised.value.code == code
    error = stripe_error(raised)
    assert error.type == "card_error"
    assert error.decline_code == decline_code
    assert error.doc_url.endswith(code.replace("_", "-"))
    intent = error.payment_intent
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.decline_code == decline_code
    assert intent.metadata["order"] == "42"
    charge = await client.v1.charges.retrieve_async(error.charge)
    assert charge.status == "failed"
    assert charge.failure_code == code
    assert [event["type"] for event in sandbox.events][-2:] == [
        "charge.failed",
        "payment_intent.payment_failed",
    ]


@pytest.mark.parametrize("number", ["4000002500003155", "4000000000003220", "4000002760003184"])
async def test_three_d_secure_cards_require_action_on_session(client: Any, number: str) -> None:
    # given
    pm = await card_pm(client, number)

    # when
    intent = await paid_intent(client, payment_method=pm.id, return_url="https://shop.test/back")

    # then
    assert intent.status == "requires_action"
    assert intent.next_action.type == "redirect_to_url"
    assert intent.next_action.redirect_to_url.url == f"http://sandbox.test/authenticate/{intent.id}"
    assert intent.next_action.redirect_to_url.return_url == "https://shop.test/back"
    assert intent.latest_charge is None


@pytest.mark.parametrize(
    "payment_method", ["pm_card_threeDSecure2Required", "pm_card_authenticationRequired"]
)
async def test_three_d_secure_cards_fail_off_session(client: Any, payment_method: str) -> None:
    # given
    customer = await client.v1.customers.create_async(params={"email": "off@session.test"})
    pm = await client.v1.payment_methods.attach_async(
        payment_method, params={"customer": customer.id}
    )

    # when
    with pytest.raises(stripe.CardError) as raised:
        await paid_intent(client, payment_method=pm.id, customer=customer.id, off_session=True)

    # then
    assert raised.value.code == "authentication_required"
    assert stripe_error(raised).decline_code == "authentication_required"
    assert stripe_error(raised).payment_intent.status == "requires_payment_method"


async def test_card_that_declines_charges_attaches_fine(client: Any) -> None:
    # given
    customer = await client.v1.customers.create_async(params={"name": "Ada"})

    # when
    pm = await client.v1.payment_methods.attach_async(
        "pm_card_chargeCustomerFail", params={"customer": customer.id}
    )

    # then
    assert pm.customer == customer.id
    with pytest.raises(stripe.CardError) as raised:
        await paid_intent(client, payment_method=pm.id, customer=customer.id, off_session=True)
    assert stripe_error(raised).decline_code == "generic_decline"


async def test_declining_card_cannot_be_attached(client: Any) -> None:
    # given
    customer = await client.v1.customers.create_async(params={"name": "Ada"})
    pm = await card_pm(client, "4000000000000002")

    # when
    with pytest.raises(stripe.CardError) as raised:
        await client.v1.payment_methods.attach_async(pm.id, params={"customer": customer.id})

    # then
    assert raised.value.code == "card_declined"
    assert (await client.v1.payment_methods.retrieve_async(pm.id)).customer is None


async def test_invalid_card_number_is_refused(client: Any) -> None:
    # when
    with pytest.raises(stripe.CardError) as raised:
        await card_pm(client, "4242424242424241")

    # then
    assert raised.value.code == "incorrect_number"
    assert raised.value.param == "card[number]"


async def test_expired_card_details_are_refused(client: Any) -> None:
    # when
    with pytest.raises(stripe.CardError) as raised:
        await client.v1.payment_methods.create_async(
            params={
                "type": "card",
                "card": {"number": "4242424242424242", "exp_month": 13, "exp_year": 2040},
            }
        )

    # then
    assert raised.value.code == "invalid_expiry_month"


async def test_test_payment_method_ids_make_fresh_payment_methods(client: Any) -> None:
    # when
    first = await paid_intent(client, payment_method="pm_card_mastercard")
    second = await paid_intent(client, payment_method="pm_card_mastercard")

    # then
    assert first.payment_method.startswith("pm_")
    assert first.payment_method != "pm_card_mastercard"
    assert first.payment_method != second.payment_method
    pm = await client.v1.payment_methods.retrieve_async(first.payment_method)
    assert pm.card.brand == "mastercard"
    assert pm.card.last4 == "4444"


async def test_dispute_card_is_disputed_after_payment(client: Any, sandbox: Sandbox) -> None:
    # when
    intent = await paid_intent(client, payment_method="pm_card_createDispute")

    # then
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)
    assert charge.disputed is True
    disputes = await client.v1.disputes.list_async(params={"charge": charge.id})
    assert disputes.data[0].status == "needs_response"
    assert "charge.dispute.created" in [event["type"] for event in sandbox.events]
