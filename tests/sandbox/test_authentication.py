"""3-D Secure: completing or failing the challenge, by helper or on the hosted page."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from graphql_payments.sandbox import Sandbox, SandboxError
from tests.sandbox.helpers import browser_for, paid_intent, stripe_error

pytestmark = pytest.mark.anyio


async def test_completed_authentication_charges_the_card(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client, payment_method="pm_card_threeDSecure2Required")
    assert intent.status == "requires_action"
    assert sandbox.events[-1]["type"] == "payment_intent.requires_action"

    # when
    done = await sandbox.complete_authentication(intent.id)

    # then
    assert done["status"] == "succeeded"
    assert done["next_action"] is None
    charge = await client.v1.charges.retrieve_async(done["latest_charge"])
    assert charge.payment_method_details.card.three_d_secure.result == "authenticated"
    assert [event["type"] for event in sandbox.events][-2:] == [
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


async def test_completed_authentication_with_manual_capture_holds(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    intent = await paid_intent(client, payment_method="pm_card_authenticationRequired",
                               capture_method="manual")  # fmt: skip

    # when
    done = await sandbox.complete_authentication(intent.id, succeed=True)

    # then
    assert done["status"] == "requires_capture"
    assert done["amount_capturable"] == intent.amount


async def test_failed_authentication_returns_to_requires_payment_method(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    intent = await paid_intent(client, payment_method="pm_card_threeDSecure2Required")

    # when
    failed = await sandbox.complete_authentication(intent.id, succeed=False)

    # then
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    assert sandbox.events[-1]["type"] == "payment_intent.payment_failed"
    with pytest.raises(SandboxError):
        await sandbox.complete_authentication(intent.id)


async def test_hosted_authentication_page_redirects_to_return_url(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    intent = await paid_intent(client, payment_method="pm_card_threeDSecure2Required",
                               return_url="https://shop.test/after-3ds")  # fmt: skip
    page_url = intent.next_action.redirect_to_url.url.removeprefix("http://sandbox.test")

    # when
    async with browser_for(sandbox) as browser:
        page = await browser.get(page_url)
        answer = await browser.post(f"{page_url}/complete")

    # then
    assert page.status_code == 200
    assert "20.00 USD" in page.text
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://shop.test/after-3ds"
    query = parse_qs(location.query)
    assert query["payment_intent"] == [intent.id]
    assert query["payment_intent_client_secret"] == [intent.client_secret]
    assert query["redirect_status"] == ["succeeded"]
    assert (await client.v1.payment_intents.retrieve_async(intent.id)).status == "succeeded"


async def test_hosted_authentication_page_can_fail(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client, payment_method="pm_card_threeDSecure2Required")

    # when
    async with browser_for(sandbox) as browser:
        answer = await browser.post(f"/authenticate/{intent.id}/fail")

    # then
    assert answer.status_code == 200
    assert "not authenticated" in answer.text
    refreshed = await client.v1.payment_intents.retrieve_async(intent.id)
    assert refreshed.status == "requires_payment_method"


async def test_setup_intent_with_authentication(client: Any, sandbox: Sandbox) -> None:
    # given
    customer = await client.v1.customers.create_async(params={"email": "si@shop.test"})
    setup_intent = await client.v1.setup_intents.create_async(
        params={"customer": customer.id, "payment_method": "pm_card_authenticationRequiredOnSetup",
                "confirm": True, "usage": "off_session"}
    )  # fmt: skip
    assert setup_intent.status == "requires_action"

    # when
    done = await sandbox.complete_authentication(setup_intent.id)

    # then
    assert done["status"] == "succeeded"
    pm = await client.v1.payment_methods.retrieve_async(done["payment_method"])
    assert pm.customer == customer.id
    charged = await paid_intent(client, payment_method=pm.id, customer=customer.id,
                                off_session=True)  # fmt: skip
    assert charged.status == "succeeded"


async def test_setup_intent_without_authentication_and_decline(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    customer = await client.v1.customers.create_async(params={})
    setup_intent = await client.v1.setup_intents.create_async(params={"customer": customer.id})

    # when
    with pytest.raises(stripe.CardError) as raised:
        await client.v1.setup_intents.confirm_async(
            setup_intent.id, params={"payment_method": "pm_card_chargeDeclined"}
        )
    succeeded = await client.v1.setup_intents.confirm_async(
        setup_intent.id, params={"payment_method": "pm_card_visa"}
    )

    # then
    assert stripe_error(raised).setup_intent.status == "requires_payment_method"
    assert succeeded.status == "succeeded"
    assert [event["type"] for event in sandbox.events if "setup" in event["type"]] == [
        "setup_intent.created",
        "setup_intent.setup_failed",
        "setup_intent.succeeded",
    ]
