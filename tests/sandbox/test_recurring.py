"""Saved cards and off-session payments: Stripe's test cards for recurring payments."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from graphql_payments.sandbox import Sandbox
from tests.sandbox.helpers import stripe_error

pytestmark = pytest.mark.anyio


async def _saved_through_setup_page(client: Any, sandbox: Sandbox, card: str) -> tuple[str, str]:
    """A customer and the card they saved on the hosted setup page."""
    customer = await client.v1.customers.create_async(params={"email": "recurring@shop.test"})
    session = await client.v1.checkout.sessions.create_async(
        params={"mode": "setup", "customer": customer.id, "currency": "usd",
                "success_url": "https://shop.test/saved"}
    )  # fmt: skip
    outcome = await sandbox.pay_checkout_session(session.id, card=card)
    assert outcome.succeeded, outcome.error
    setup_intent = await client.v1.setup_intents.retrieve_async(session.setup_intent)
    return customer.id, str(setup_intent.payment_method)


async def _off_session(client: Any, customer: str, payment_method: str) -> Any:
    return await client.v1.payment_intents.create_async(
        params={"amount": 1000, "currency": "usd", "customer": customer,
                "payment_method": payment_method, "off_session": True, "confirm": True}
    )  # fmt: skip


async def test_a_setup_session_has_its_setup_intent_from_the_start(client: Any) -> None:
    # given
    customer = await client.v1.customers.create_async(params={})

    # when
    session = await client.v1.checkout.sessions.create_async(
        params={"mode": "setup", "customer": customer.id, "currency": "usd",
                "success_url": "https://shop.test/saved"}
    )  # fmt: skip

    # then
    setup_intent = await client.v1.setup_intents.retrieve_async(session.setup_intent)
    assert setup_intent.status == "requires_payment_method"
    assert setup_intent.customer == customer.id
    assert setup_intent.usage == "off_session"
    assert setup_intent.client_secret.startswith(f"{setup_intent.id}_secret_")


async def test_a_card_authenticated_when_saved_is_charged_off_session(
    client: Any, sandbox: Sandbox
) -> None:
    # given: 3155 asks for 3-D Secure on the page, and the payer passes it there
    customer, pm = await _saved_through_setup_page(client, sandbox, "4000002500003155")

    # when
    intent = await _off_session(client, customer, pm)

    # then
    assert intent.status == "succeeded"


async def test_a_card_that_always_authenticates_fails_off_session(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    customer, pm = await _saved_through_setup_page(client, sandbox, "4000002760003184")

    # when
    with pytest.raises(stripe.CardError) as raised:
        await _off_session(client, customer, pm)

    # then: the customer can finish the same PaymentIntent on session
    error = stripe_error(raised)
    assert (error.code, error.decline_code) == (
        "authentication_required",
        "authentication_required",
    )
    intent_id = error.payment_intent.id
    confirmed = await client.v1.payment_intents.confirm_async(
        intent_id, params={"payment_method": pm, "return_url": "https://shop.test/back"}
    )
    assert confirmed.status == "requires_action"
    assert confirmed.next_action.redirect_to_url.url.endswith(f"/authenticate/{intent_id}")
    done = await sandbox.complete_authentication(intent_id)
    assert done["status"] == "succeeded"


@pytest.mark.parametrize(
    ("payment_method", "decline_code"),
    [("pm_card_chargeCustomerFail", "generic_decline"),
     ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds")],
)  # fmt: skip
async def test_declining_cards_off_session(
    client: Any, payment_method: str, decline_code: str
) -> None:
    # given
    customer = await client.v1.customers.create_async(params={})

    # when
    with pytest.raises(stripe.CardError) as raised:
        await _off_session(client, customer.id, payment_method)

    # then
    assert stripe_error(raised).decline_code == decline_code
    assert stripe_error(raised).payment_intent.status == "requires_payment_method"


async def test_0341_attaches_then_every_charge_is_declined(client: Any, sandbox: Sandbox) -> None:
    # given
    customer, pm = await _saved_through_setup_page(client, sandbox, "4000000000000341")
    await client.v1.customers.update_async(
        customer, params={"invoice_settings": {"default_payment_method": pm}}
    )

    # when
    with pytest.raises(stripe.CardError) as raised:
        await _off_session(client, customer, pm)

    # then
    assert stripe_error(raised).code == "card_declined"
    shown = await client.v1.customers.retrieve_async(customer)
    assert shown.invoice_settings.default_payment_method == pm


async def test_clock_listeners_run_after_the_clock_moves(sandbox: Sandbox) -> None:
    # given
    seen: list[int] = []

    async def listener(now: int) -> None:
        seen.append(now)

    async def broken(now: int) -> None:
        raise RuntimeError("listener bug")

    sandbox.on_clock_advance(broken)
    sandbox.on_clock_advance(listener)

    # when
    now = await sandbox.advance_clock(3600)

    # then: a failing listener neither stops the others nor the clock
    assert seen == [now]
