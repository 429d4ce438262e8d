"""Checkout Sessions, the hosted checkout page, and what paying on it does."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from graphql_payments.sandbox import Sandbox, SandboxError
from tests.sandbox.helpers import browser_for, checkout_session, line_item

pytestmark = pytest.mark.anyio


async def test_create_payment_session(client: Any) -> None:
    # when
    session = await checkout_session(
        client,
        line_items=[line_item(unit_amount=500, quantity=3), line_item(name="Fee", unit_amount=99)],
        client_reference_id="user-7",
        customer_email="buyer@shop.test",
        metadata={"purchase": "p1"},
        payment_intent_data={"metadata": {"purchase": "p1"}, "description": "Credits"},
    )

    # then
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.url == f"http://sandbox.test/checkout/{session.id}"
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert (session.amount_subtotal, session.amount_total, session.currency) == (1599, 1599, "usd")
    assert session.payment_intent is None
    assert session.client_reference_id == "user-7"
    assert session.success_url == "https://shop.test/success?session={CHECKOUT_SESSION_ID}"
    items = await client.v1.checkout.sessions.line_items.list_async(session.id)
    assert [(item.description, item.quantity, item.amount_total) for item in items.data] == [
        ("100 credits", 3, 1500),
        ("Fee", 1, 99),
    ]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"line_items": []}, "line_items"),
        ({"expires_at": 10}, "expires_at"),
        ({"success_url": "not a url"}, "success_url"),
        ({"line_items": [line_item(unit_amount=10)]}, "line_items"),
        ({"line_items": [line_item(), line_item(currency="eur")]},
         "line_items[1][price_data][currency]"),
        ({"line_items": [{"price": "price_123", "quantity": 1}]}, "line_items[0][price]"),
        ({"mode": "subscription"}, "mode"),
    ],
)  # fmt: skip
async def test_invalid_sessions_are_refused(
    client: Any, params: dict[str, Any], param: str
) -> None:
    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await checkout_session(client, **params)

    # then
    assert raised.value.param == param


async def test_expiry_must_be_between_half_an_hour_and_a_day(client: Any, sandbox: Sandbox) -> None:
    # given
    now = sandbox.clock.now()

    # when
    with pytest.raises(stripe.InvalidRequestError) as too_soon:
        await checkout_session(client, expires_at=now + 60)
    with pytest.raises(stripe.InvalidRequestError) as too_late:
        await checkout_session(client, expires_at=now + 25 * 3600)
    fine = await checkout_session(client, expires_at=now + 3600)

    # then
    assert too_soon.value.param == too_late.value.param == "expires_at"
    assert fine.expires_at == now + 3600


async def test_hosted_page_renders_the_session(client: Any, sandbox: Sandbox) -> None:
    # given
    session = await checkout_session(
        client, line_items=[line_item(name="Gold <pack>", unit_amount=1234)]
    )

    # when
    async with browser_for(sandbox) as browser:
        page = await browser.get(f"/checkout/{session.id}")
        missing = await browser.get("/checkout/cs_test_missing")

    # then
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Gold &lt;pack&gt;" in page.text
    assert "12.34 USD" in page.text
    assert f'action="http://sandbox.test/checkout/sessions/{session.id}/pay"' in page.text
    assert 'value="4242424242424242"' in page.text
    assert missing.status_code == 404


async def test_paying_on_the_hosted_page_redirects_to_success(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    session = await checkout_session(client, payment_intent_data={"metadata": {"purchase": "p9"}})

    # when
    async with browser_for(sandbox) as browser:
        answer = await browser.post(
            f"/checkout/sessions/{session.id}/pay",
            data={"card": "4242424242424242", "email": "payer@shop.test"},
        )

    # then
    assert answer.status_code == 303
    assert answer.headers["location"] == f"https://shop.test/success?session={session.id}"
    paid = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.customer_details.email == "payer@shop.test"
    intent = await client.v1.payment_intents.retrieve_async(paid.payment_intent)
    assert intent.status == "succeeded"
    assert intent.metadata["purchase"] == "p9"
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)
    assert charge.receipt_url
    assert [event["type"] for event in sandbox.events][-3:] == [
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]
    completed = sandbox.events[-1]["data"]["object"]
    assert completed["payment_intent"] == intent.id
    assert completed["payment_status"] == "paid"


async def test_decline_on_the_hosted_page_goes_back_with_the_error(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    session = await checkout_session(client)

    # when
    async with browser_for(sandbox) as browser:
        answer = await browser.post(
            f"/checkout/sessions/{session.id}/pay", data={"card": "4000000000009995"}
        )
        page = await browser.get(answer.headers["location"].removeprefix("http://sandbox.test"))

    # then
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert location.path == f"/checkout/{session.id}"
    assert parse_qs(location.query)["error"] == ["Your card has insufficient funds."]
    assert "Your card has insufficient funds." in page.text
    assert (await client.v1.checkout.sessions.retrieve_async(session.id)).status == "open"


async def test_cancel_on_the_hosted_page_redirects_to_cancel_url(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    session = await checkout_session(client)

    # when
    async with browser_for(sandbox) as browser:
        answer = await browser.post(f"/checkout/sessions/{session.id}/cancel")

    # then
    assert answer.status_code == 303
    assert answer.headers["location"] == "https://shop.test/cancel"
    assert (await client.v1.checkout.sessions.retrieve_async(session.id)).status == "open"
    assert await sandbox.cancel_checkout_session(session.id) == "https://shop.test/cancel"


async def test_declined_payment_leaves_the_session_open(client: Any, sandbox: Sandbox) -> None:
    # given
    session = await checkout_session(client, payment_intent_data={"metadata": {"purchase": "p2"}})

    # when
    outcome = await sandbox.pay_checkout_session(session.id, card="pm_card_chargeDeclined")

    # then
    assert outcome.succeeded is False
    assert outcome.error is not None
    assert outcome.error["decline_code"] == "generic_decline"
    refreshed = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert refreshed.status == "open"
    intent = await client.v1.payment_intents.retrieve_async(outcome.payment_intent)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == "card_declined"
    assert intent.metadata["purchase"] == "p2"
    failed = [e for e in sandbox.events if e["type"] == "payment_intent.payment_failed"]
    assert failed[0]["data"]["object"]["metadata"] == {"purchase": "p2"}


async def test_payer_can_retry_after_a_decline(client: Any, sandbox: Sandbox) -> None:
    # given
    session = await checkout_session(client)
    declined = await sandbox.pay_checkout_session(session.id, card="4000000000000002")

    # when
    retry = await sandbox.pay_checkout_session(session.id, card="4242424242424242")

    # then
    assert retry.succeeded is True
    assert retry.payment_intent == declined.payment_intent
    intent = await client.v1.payment_intents.retrieve_async(retry.payment_intent)
    assert intent.status == "succeeded"


async def test_three_d_secure_card_on_the_page_counts_as_authenticated(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    session = await checkout_session(client)

    # when
    outcome = await sandbox.pay_checkout_session(session.id, card="4000002500003155")

    # then
    assert outcome.succeeded
    intent = await client.v1.payment_intents.retrieve_async(
        outcome.payment_intent, params={"expand": ["latest_charge"]}
    )
    assert intent.status == "succeeded"
    assert intent.latest_charge.payment_method_details.card.three_d_secure.result == (
        "authenticated"
    )


async def test_paying_a_completed_session_is_refused(client: Any, sandbox: Sandbox) -> None:
    # given
    session = await checkout_session(client)
    await sandbox.pay_checkout_session(session.id)

    # when
    with pytest.raises(SandboxError) as raised:
        await sandbox.pay_checkout_session(session.id)

    # then
    assert raised.value.code == "checkout_session_inactive"


async def test_manual_capture_session_completes_unpaid(client: Any, sandbox: Sandbox) -> None:
    # given
    session = await checkout_session(client, payment_intent_data={"capture_method": "manual"})

    # when
    outcome = await sandbox.pay_checkout_session(session.id)

    # then
    completed = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert (completed.status, completed.payment_status) == ("complete", "unpaid")
    intent = await client.v1.payment_intents.capture_async(outcome.payment_intent)
    assert intent.status == "succeeded"
    assert (await client.v1.checkout.sessions.retrieve_async(session.id)).payment_status == "paid"


async def test_customer_creation_always_creates_a_customer(client: Any, sandbox: Sandbox) -> None:
    # given
    session = await checkout_session(
        client, customer_email="new@shop.test", customer_creation="always"
    )

    # when
    await sandbox.pay_checkout_session(session.id)

    # then
    completed = await client.v1.checkout.sessions.retrieve_async(session.id)
    customer = await client.v1.customers.retrieve_async(completed.customer)
    assert customer.email == "new@shop.test"
    intent = await client.v1.payment_intents.retrieve_async(completed.payment_intent)
    assert intent.customer == customer.id


async def test_expire_an_open_session(client: Any, sandbox: Sandbox) -> None:
    # given
    session = await checkout_session(client)
    await sandbox.pay_checkout_session(session.id, card="4000000000000002")

    # when
    expired = await client.v1.checkout.sessions.expire_async(session.id)

    # then
    assert expired.status == "expired"
    assert expired.url is None
    intent = await client.v1.payment_intents.retrieve_async(expired.payment_intent)
    assert intent.status == "canceled"
    assert sandbox.events[-1]["type"] == "checkout.session.expired"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.checkout.sessions.expire_async(session.id)
    async with browser_for(sandbox) as browser:
        page = await browser.get(f"/checkout/{session.id}")
    assert "expired" in page.text


async def test_setup_mode_saves_the_card_to_the_customer(client: Any, sandbox: Sandbox) -> None:
    # given
    customer = await client.v1.customers.create_async(params={"email": "autopay@shop.test"})
    session = await client.v1.checkout.sessions.create_async(
        params={"mode": "setup", "customer": customer.id, "currency": "usd",
                "success_url": "https://shop.test/saved",
                "setup_intent_data": {"metadata": {"autopay": "on"}}}
    )  # fmt: skip

    # when
    outcome = await sandbox.pay_checkout_session(session.id, card="4242424242424242")

    # then
    assert outcome.succeeded is True
    assert outcome.redirect_url == "https://shop.test/saved"
    completed = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert (completed.status, completed.payment_status) == ("complete", "no_payment_required")
    setup_intent = await client.v1.setup_intents.retrieve_async(completed.setup_intent)
    assert setup_intent.status == "succeeded"
    assert setup_intent.metadata["autopay"] == "on"
    methods = await client.v1.customers.payment_methods.list_async(customer.id)
    assert [pm.id for pm in methods.data] == [setup_intent.payment_method]
    assert [event["type"] for event in sandbox.events][-3:] == [
        "payment_method.attached",
        "setup_intent.succeeded",
        "checkout.session.completed",
    ]
    charged = await client.v1.payment_intents.create_async(
        params={"amount": 700, "currency": "usd", "customer": customer.id,
                "payment_method": setup_intent.payment_method, "off_session": True,
                "confirm": True}
    )  # fmt: skip
    assert charged.status == "succeeded"


async def test_setup_mode_with_a_declining_card_stays_open(client: Any, sandbox: Sandbox) -> None:
    # given
    customer = await client.v1.customers.create_async(params={})
    session = await client.v1.checkout.sessions.create_async(
        params={"mode": "setup", "customer": customer.id, "success_url": "https://shop.test/ok"}
    )

    # when
    outcome = await sandbox.pay_checkout_session(session.id, card="4000000000000002")

    # then
    assert not outcome.succeeded
    assert (await client.v1.checkout.sessions.retrieve_async(session.id)).status == "open"
    assert sandbox.events[-1]["type"] == "setup_intent.setup_failed"


@pytest.mark.parametrize(
    ("iban", "final_status", "event_type"),
    [
        ("DE89370400440532013000", "succeeded", "checkout.session.async_payment_succeeded"),
        ("DE62370400440532013001", "requires_payment_method",
         "checkout.session.async_payment_failed"),
    ],
)  # fmt: skip
async def test_delayed_payment_settles_later(
    client: Any, sandbox: Sandbox, iban: str, final_status: str, event_type: str
) -> None:
    # given
    session = await checkout_session(client, currency="eur",
                                     line_items=[line_item(currency="eur")])  # fmt: skip
    outcome = await sandbox.pay_checkout_session(session.id, card=iban)
    completed = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert (completed.status, completed.payment_status) == ("complete", "unpaid")
    assert (await client.v1.payment_intents.retrieve_async(outcome.payment_intent)).status == (
        "processing"
    )

    # when
    await sandbox.advance_clock(181)

    # then
    intent = await client.v1.payment_intents.retrieve_async(outcome.payment_intent)
    assert intent.status == final_status
    assert sandbox.events[-1]["type"] == event_type


async def test_list_sessions_by_payment_intent(client: Any, sandbox: Sandbox) -> None:
    # given
    session = await checkout_session(client)
    await checkout_session(client)
    outcome = await sandbox.pay_checkout_session(session.id)

    # when
    found = await client.v1.checkout.sessions.list_async(
        params={"payment_intent": outcome.payment_intent}
    )

    # then
    assert [s.id for s in found.data] == [session.id]


async def test_receipt_page_and_index(client: Any, sandbox: Sandbox) -> None:
    # given
    session = await checkout_session(client)
    other = await checkout_session(client)
    outcome = await sandbox.pay_checkout_session(session.id)
    intent = await client.v1.payment_intents.retrieve_async(outcome.payment_intent)
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)

    # when
    async with browser_for(sandbox) as browser:
        receipt = await browser.get(charge.receipt_url.removeprefix("http://sandbox.test"))
        index = await browser.get("/")

    # then
    assert receipt.status_code == 200
    assert "5.00 USD" in receipt.text
    assert "Visa ending in 4242" in receipt.text
    assert other.url in index.text
    assert session.id not in index.text
