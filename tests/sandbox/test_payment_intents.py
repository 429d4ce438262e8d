"""PaymentIntent lifecycle: statuses, capture, cancel, update, lists, amounts."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from graphql_payments.sandbox import Sandbox
from tests.sandbox.helpers import paid_intent, stripe_error

pytestmark = pytest.mark.anyio


async def test_create_then_confirm_walks_the_statuses(client: Any, sandbox: Sandbox) -> None:
    # given
    created = await client.v1.payment_intents.create_async(
        params={"amount": 1099, "currency": "usd", "description": "Credits"}
    )
    assert created.status == "requires_payment_method"
    assert created.client_secret.startswith(f"{created.id}_secret_")

    # when
    updated = await client.v1.payment_intents.update_async(
        created.id, params={"payment_method": "pm_card_visa"}
    )
    confirmed = await client.v1.payment_intents.confirm_async(created.id)

    # then
    assert updated.status == "requires_confirmation"
    assert confirmed.status == "succeeded"
    assert confirmed.amount_received == 1099
    charge = await client.v1.charges.retrieve_async(confirmed.latest_charge)
    assert charge.amount_captured == 1099
    assert charge.receipt_url == f"http://sandbox.test/receipts/{charge.id}"
    assert charge.balance_transaction.startswith("txn_")
    assert charge.outcome.type == "authorized"
    assert [event["type"] for event in sandbox.events] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


async def test_manual_capture_holds_then_partially_captures(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client, amount=5000, capture_method="manual")
    assert intent.status == "requires_capture"
    assert intent.amount_capturable == 5000
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)
    assert charge.captured is False
    assert charge.payment_method_details.card.capture_before == charge.created + 7 * 24 * 3600

    # when
    captured = await client.v1.payment_intents.capture_async(
        intent.id, params={"amount_to_capture": 3000}
    )

    # then
    assert captured.status == "succeeded"
    assert captured.amount_received == 3000
    assert captured.amount_capturable == 0
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)
    assert (charge.captured, charge.amount_captured, charge.amount) == (True, 3000, 5000)
    # the released remainder shows as refunded, as at Stripe, with no refund object
    assert (charge.amount_refunded, charge.refunded, charge.refunds.data) == (2000, False, [])
    types = [event["type"] for event in sandbox.events]
    assert types[-2:] == ["charge.captured", "payment_intent.succeeded"]
    assert sandbox.events_of("charge.captured")[0]["data"]["object"]["amount_refunded"] == 2000
    assert "payment_intent.amount_capturable_updated" in types


async def test_capture_more_than_capturable_is_refused(client: Any) -> None:
    # given
    intent = await paid_intent(client, amount=1000, capture_method="manual")

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.capture_async(intent.id, params={"amount_to_capture": 1001})

    # then
    assert raised.value.param == "amount_to_capture"
    assert raised.value.code == "amount_too_large"


async def test_capture_of_automatic_intent_is_unexpected_state(client: Any) -> None:
    # given
    intent = await paid_intent(client)

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.capture_async(intent.id)

    # then
    assert raised.value.http_status == 400
    assert raised.value.code == "payment_intent_unexpected_state"


async def test_cancel_releases_an_uncaptured_hold(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client, capture_method="manual")

    # when
    canceled = await client.v1.payment_intents.cancel_async(
        intent.id, params={"cancellation_reason": "requested_by_customer"}
    )

    # then
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "requested_by_customer"
    assert canceled.amount_capturable == 0
    assert canceled.canceled_at is not None
    assert sandbox.events[-1]["type"] == "payment_intent.canceled"
    assert sandbox.events[-1]["data"]["previous_attributes"]["status"] == "requires_capture"


@pytest.mark.parametrize("operation", ["cancel", "confirm", "capture"])
async def test_operations_on_finished_intents_fail(client: Any, operation: str) -> None:
    # given
    succeeded = await paid_intent(client)
    canceled = await client.v1.payment_intents.create_async(
        params={"amount": 1000, "currency": "usd"}
    )
    await client.v1.payment_intents.cancel_async(canceled.id)

    for intent_id in (succeeded.id, canceled.id):
        # when
        with pytest.raises(stripe.InvalidRequestError) as raised:
            await getattr(client.v1.payment_intents, f"{operation}_async")(intent_id)

        # then
        assert raised.value.http_status == 400
        assert raised.value.code == "payment_intent_unexpected_state"


async def test_confirm_without_payment_method_fails(client: Any) -> None:
    # given
    intent = await client.v1.payment_intents.create_async(params={"amount": 900, "currency": "eur"})

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.confirm_async(intent.id)

    # then
    assert raised.value.code == "payment_intent_unexpected_state"


async def test_retry_after_decline_with_another_card_succeeds(client: Any) -> None:
    # given
    with pytest.raises(stripe.CardError) as raised:
        await paid_intent(client, payment_method="pm_card_chargeDeclined")
    intent_id = stripe_error(raised).payment_intent.id

    # when
    retried = await client.v1.payment_intents.confirm_async(
        intent_id, params={"payment_method": "pm_card_visa"}
    )

    # then
    assert retried.status == "succeeded"
    assert retried.last_payment_error is None


async def test_update_after_success_allows_only_some_fields(client: Any) -> None:
    # given
    intent = await paid_intent(client, metadata={"a": "1", "b": "2"})

    # when
    updated = await client.v1.payment_intents.update_async(
        intent.id, params={"metadata": {"a": "", "c": "3"}, "description": "Paid"}
    )

    # then
    assert updated.metadata.to_dict() == {"b": "2", "c": "3"}
    assert updated.description == "Paid"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.update_async(intent.id, params={"amount": 5000})
    assert raised.value.code == "payment_intent_unexpected_state"
    assert raised.value.param == "amount"


@pytest.mark.parametrize(
    ("currency", "too_small", "smallest"),
    [("usd", 49, 50), ("jpy", 49, 50), ("gbp", 29, 30), ("eur", 49, 50)],
)
async def test_minimum_amounts(client: Any, currency: str, too_small: int, smallest: int) -> None:
    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.create_async(
            params={"amount": too_small, "currency": currency}
        )
    accepted = await client.v1.payment_intents.create_async(
        params={"amount": smallest, "currency": currency}
    )

    # then
    assert raised.value.code == "amount_too_small"
    assert raised.value.param == "amount"
    assert accepted.amount == smallest


async def test_zero_decimal_currency_amounts_are_whole_units(client: Any) -> None:
    # when
    intent = await paid_intent(client, amount=500, currency="jpy")

    # then
    charge = await client.v1.charges.retrieve_async(
        intent.latest_charge, params={"expand": ["balance_transaction"]}
    )
    assert (charge.amount, charge.currency) == (500, "jpy")
    assert charge.balance_transaction.fee == round(500 * 0.029)


async def test_unknown_currency_is_refused(client: Any) -> None:
    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.create_async(params={"amount": 500, "currency": "xyz"})

    # then
    assert raised.value.param == "currency"


async def test_unknown_id_is_resource_missing(client: Any) -> None:
    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.retrieve_async("pi_doesnotexist")

    # then
    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"
    assert raised.value.param == "id"
    assert "pi_doesnotexist" in raised.value.user_message


async def test_list_pages_newest_first(client: Any) -> None:
    # given
    customer = await client.v1.customers.create_async(params={"email": "list@test.test"})
    created = [
        await client.v1.payment_intents.create_async(
            params={"amount": 100 + index, "currency": "usd", "customer": customer.id}
        )
        for index in range(5)
    ]
    await client.v1.payment_intents.create_async(params={"amount": 999, "currency": "usd"})

    # when
    first = await client.v1.payment_intents.list_async(params={"customer": customer.id, "limit": 2})
    second = await client.v1.payment_intents.list_async(
        params={"customer": customer.id, "limit": 2, "starting_after": first.data[-1].id}
    )
    everything = [pi.id async for pi in first.auto_paging_iter()]

    # then
    assert first.object == "list"
    assert first.url == "/v1/payment_intents"
    assert first.has_more is True
    assert [pi.id for pi in first.data] == [created[4].id, created[3].id]
    assert [pi.id for pi in second.data] == [created[2].id, created[1].id]
    assert everything == [pi.id for pi in reversed(created)]


async def test_expand_latest_charge(client: Any) -> None:
    # given
    intent = await paid_intent(client)

    # when
    expanded = await client.v1.payment_intents.retrieve_async(
        intent.id, params={"expand": ["latest_charge", "latest_charge.balance_transaction"]}
    )

    # then
    assert expanded.latest_charge.object == "charge"
    assert expanded.latest_charge.balance_transaction.object == "balance_transaction"


async def test_payment_method_of_another_customer_is_refused(client: Any) -> None:
    # given
    alice = await client.v1.customers.create_async(params={"name": "Alice"})
    bob = await client.v1.customers.create_async(params={"name": "Bob"})
    pm = await client.v1.payment_methods.attach_async("pm_card_visa", params={"customer": alice.id})

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await paid_intent(client, payment_method=pm.id, customer=bob.id)

    # then
    assert raised.value.param == "payment_method"


async def test_setup_future_usage_saves_the_card(client: Any) -> None:
    # given
    customer = await client.v1.customers.create_async(params={"email": "save@card.test"})

    # when
    intent = await paid_intent(client, customer=customer.id, setup_future_usage="off_session")

    # then
    methods = await client.v1.customers.payment_methods.list_async(customer.id)
    assert [pm.id for pm in methods.data] == [intent.payment_method]
    again = await paid_intent(
        client, customer=customer.id, payment_method=intent.payment_method, off_session=True
    )
    assert again.status == "succeeded"
