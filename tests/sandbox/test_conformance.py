"""The sandbox answers as Stripe does, checked against Stripe's own OpenAPI description.

Every operation the gateway (`graphql_payments.gateway.StripeGateway`) performs is driven
through the gateway itself (the real `stripe` SDK), successes and the failures the product
handles; more SDK calls and the sandbox's people-and-banks helpers make it send every kind of
webhook event it has. Each response body and each event is then checked against Stripe's
description (see `tests/sandbox/conformance/checks.py`), and the counts are printed at the end
of the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from graphql_payments.errors import CardDeclined, StripeFailed
from graphql_payments.gateway import StripeGateway
from graphql_payments.sandbox import Sandbox
from tests.sandbox.conformance.checks import Report, spec
from tests.sandbox.helpers import API_BASE, API_KEY, make_sandbox, paid_intent

pytestmark = pytest.mark.anyio

SUMMARY: list[str] = []


def _operation(method: str, path: str) -> str:
    for operation in spec()["responses"]:
        op_method, template = operation.split(" ", 1)
        regex = "^" + re.sub(r"\{\w+\}", "[^/]+", template) + "$"
        if op_method == method and re.match(regex, path):
            return str(operation)
    return f"{method} {path}"


class Recorder(httpx.AsyncBaseTransport):
    """A transport that keeps every `/v1` answer it carries."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.answers: list[tuple[str, int, dict[str, Any]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        if request.url.path.startswith("/v1/"):
            operation = _operation(request.method, request.url.path)
            self.answers.append((operation, response.status_code, json.loads(body)))
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[Sandbox, Recorder, StripeGateway, Any]]:
    sandbox = make_sandbox()
    recorder = Recorder(httpx.ASGITransport(app=sandbox.app))
    gateway = StripeGateway.create(
        API_KEY, api_base=API_BASE, timeout=5.0, max_network_retries=0, transport=recorder
    )
    client = gateway._client
    yield sandbox, recorder, gateway, client
    await gateway.aclose()
    await sandbox.aclose()


async def _drive(sandbox: Sandbox, gateway: StripeGateway, client: Any) -> str:
    """Every gateway operation, then what makes the sandbox send the remaining events; returns
    the connected account's id."""
    customer = await gateway.create_customer(
        user_id="u1", idempotency_key="conf-customer", email="buyer@shop.test"
    )
    session = await gateway.create_checkout_session(
        amount=1500, currency="EUR", name="150 credits", description="Credits",
        customer_id=customer, success_url="https://shop.test/ok", cancel_url="https://shop.test/no",
        metadata={"payment_id": "p1"}, client_reference_id="p1", idempotency_key="conf-checkout",
    )  # fmt: skip
    await sandbox.pay_checkout_session(session.id)
    await gateway.retrieve_checkout_session(session.id)

    # saved cards and off-session payments (a card that always asks for 3-D Secure)
    setup_session = await gateway.create_setup_session(
        customer_id=customer, currency="USD", success_url="https://shop.test/saved",
        cancel_url="https://shop.test/no", metadata={"user_id": "u1"},
        idempotency_key="conf-setup",
    )  # fmt: skip
    assert setup_session.setup_intent_id is not None
    await sandbox.pay_checkout_session(setup_session.id, card="4000002760003184")
    saved = await gateway.retrieve_setup_intent(setup_session.setup_intent_id)
    assert saved.payment_method_id is not None
    card = saved.payment_method_id
    await gateway.retrieve_payment_method(card)
    await gateway.set_default_payment_method(customer, card, idempotency_key="conf-default")
    await gateway.retrieve_customer(customer)
    with pytest.raises(CardDeclined) as away:
        await gateway.charge_off_session(
            amount=1200, currency="USD", customer_id=customer, payment_method_id=card,
            description="autopay", metadata={"autopay": "1"}, idempotency_key="conf-off",
        )  # fmt: skip
    assert away.value.payment_intent_id is not None
    await gateway.confirm_on_session(
        away.value.payment_intent_id, payment_method_id=card,
        return_url="https://shop.test/back", idempotency_key="conf-on-session",
    )  # fmt: skip
    await gateway.detach_payment_method(card, idempotency_key="conf-detach")

    account = await client.v1.accounts.create_async(
        params={"type": "express", "country": "US", "email": "runner@shop.test",
                "capabilities": {"transfers": {"requested": True}}}
    )  # fmt: skip
    await gateway.retrieve_account(account.id)
    await sandbox.complete_onboarding(account.id)
    account_id = str(account.id)

    def authorize(key: str, card: str = "pm_card_visa") -> Any:
        return gateway.authorize_payment(
            amount=5000, currency="USD", customer_id=customer, payment_method_id=card,
            description="order 7", return_url=None, transfer_group="order-7",
            metadata={"escrow_id": key}, idempotency_key=key,
        )  # fmt: skip

    held = await authorize("conf-hold")
    await gateway.retrieve_payment_intent(held.id)
    captured = await gateway.capture_payment(held.id, amount=4000, idempotency_key="conf-capture")
    assert captured.latest_charge is not None
    transfer = await gateway.create_transfer(
        amount=3000, currency="USD", destination=account_id, transfer_group="order-7",
        source_transaction=captured.latest_charge.id, metadata={"escrow_id": "e1"},
        idempotency_key="conf-transfer",
    )  # fmt: skip
    await gateway.reverse_transfer(
        transfer.id, amount=1000, metadata={"refund_id": "r1"}, idempotency_key="conf-reversal"
    )
    await gateway.create_refund(
        payment_intent_id=held.id, amount=1000, reason="requested_by_customer",
        metadata={"refund_id": "r1"}, idempotency_key="conf-refund",
    )  # fmt: skip
    await gateway.list_refunds(held.id)

    canceled = await authorize("conf-cancel")
    await gateway.cancel_payment(canceled.id, idempotency_key="conf-cancel-it")

    # failures the gateway turns into domain errors
    with pytest.raises(CardDeclined):
        await authorize("conf-declined", "pm_card_chargeDeclined")
    with pytest.raises(StripeFailed):
        await gateway.create_refund(
            payment_intent_id="pi_missing", amount=100, reason=None, metadata={},
            idempotency_key="conf-missing",
        )  # fmt: skip
    with pytest.raises(StripeFailed):
        await gateway.create_refund(
            payment_intent_id=held.id, amount=100, reason="changed_mind", metadata={},
            idempotency_key="conf-bad-reason",
        )  # fmt: skip
    with pytest.raises(StripeFailed):
        await gateway.retrieve_account("acct_missing")

    # the rest of the events the sandbox sends
    await client.v1.customers.update_async(customer, params={"name": "Buyer"})
    await client.v1.accounts.update_async(account_id, params={"metadata": {"runner": "1"}})
    setup = await client.v1.setup_intents.create_async(
        params={"customer": customer, "payment_method": "pm_card_visa", "confirm": True,
                "usage": "off_session"}
    )  # fmt: skip
    await client.v1.payment_methods.update_async(
        setup.payment_method, params={"metadata": {"saved": "1"}}
    )
    await client.v1.payment_methods.detach_async(setup.payment_method)
    await client.v1.setup_intents.cancel_async(
        (await client.v1.setup_intents.create_async(params={"customer": customer})).id
    )
    for won in (False, True):
        disputed = await paid_intent(client, amount=2500)
        dispute = await sandbox.create_dispute(disputed.latest_charge)
        await sandbox.close_dispute(dispute["id"], won=won)
    await client.v1.transfers.update_async(transfer.id, params={"description": "order 7"})
    failing = await client.v1.setup_intents.create_async(
        params={"customer": customer, "payment_method": "pm_card_threeDSecure2Required",
                "confirm": True, "return_url": "https://shop.test/back"}
    )  # fmt: skip
    await sandbox.complete_authentication(failing.id, succeed=False)
    for iban in ("DE89370400440532013000", "DE62370400440532013001"):
        debit_session = await client.v1.checkout.sessions.create_async(
            params={"mode": "payment", "success_url": "https://shop.test/ok",
                    "line_items": [{"quantity": 1, "price_data": {"currency": "eur",
                                    "unit_amount": 900, "product_data": {"name": "y"}}}]}
        )  # fmt: skip
        await sandbox.pay_checkout_session(debit_session.id, card=iban)
    await sandbox.advance_clock(181)
    refunded = await paid_intent(client, amount=2500)
    refund = await client.v1.refunds.create_async(params={"payment_intent": refunded.id})
    await sandbox.fail_refund(refund.id)
    await client.v1.charges.update_async(refunded.latest_charge, params={"description": "x"})
    debit = await paid_intent(client, amount=2500, payment_method="pm_card_visa",
                              capture_method="manual")  # fmt: skip
    await sandbox.advance_clock(8 * 24 * 3600)
    assert (await client.v1.payment_intents.retrieve_async(debit.id)).status == "canceled"
    expiring = await client.v1.checkout.sessions.create_async(
        params={"mode": "payment", "success_url": "https://shop.test/ok",
                "line_items": [{"quantity": 1, "price_data": {"currency": "usd",
                                "unit_amount": 700, "product_data": {"name": "x"}}}]}
    )  # fmt: skip
    await client.v1.checkout.sessions.expire_async(expiring.id)
    await client.v1.customers.delete_async(customer)
    return account_id


async def test_answers_and_events_match_stripes_description(
    recorded: tuple[Sandbox, Recorder, StripeGateway, Any],
) -> None:
    # given
    sandbox, recorder, gateway, client = recorded
    account_id = await _drive(sandbox, gateway, client)
    report = Report()

    # when
    answers = [
        (operation, status, body)
        for operation, status, body in recorder.answers
        if operation in spec()["responses"] or status >= 400
    ]
    for operation, status, body in answers:
        report.response(operation, status, body)
    for event in sandbox.events:
        report.event(event)

    # then: the differences Stripe's description cannot show
    by_operation: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for operation, status, body in recorder.answers:
        by_operation.setdefault(operation, []).append((status, body))
    created = [b for s, b in by_operation["POST /v1/payment_intents"] if s == 200 and b["metadata"]]
    assert {b["automatic_payment_methods"]["allow_redirects"] for b in created} == {"never"}
    assert {b["ui_mode"] for s, b in by_operation["POST /v1/checkout/sessions"]} == {"hosted_page"}
    errors = [b["error"] for _, answers in by_operation.items() for s, b in answers if s >= 400]
    assert all(e["request_log_url"] for e in errors)
    declined = {e["decline_code"]: e for e in errors if e["type"] == "card_error"}
    assert sorted(declined) == ["authentication_required", "generic_decline"]
    generic = declined["generic_decline"]
    assert (generic["advice_code"], generic["network_decline_code"]) == ("try_again_later", "05")
    # an invalid enum value names the parameter and, as at Stripe, carries no code
    bad_reason = [e for e in errors if e.get("param") == "reason"]
    assert [("code" in e, e["message"][:15]) for e in bad_reason] == [(False, "Invalid reason:")]
    missing = [e for e in errors if e.get("code") == "resource_missing"]
    assert sorted(e["param"] for e in missing) == ["id", "payment_intent"]
    onboarded = sandbox.events_of("account.updated")[0]["data"]
    assert onboarded["object"]["id"] == account_id
    assert onboarded["object"]["capabilities"] == {"transfers": "active"}
    assert onboarded["previous_attributes"]["capabilities"] == {"transfers": "inactive"}
    gateway_operations = {op for op, _, _ in recorder.answers if op in spec()["responses"]}
    types = sorted({event["type"] for event in sandbox.events})
    SUMMARY.append(
        f"{len(answers)} answers of {len(gateway_operations)} operations and "
        f"{len(sandbox.events)} events of {len(types)} types: {report.valid} of {report.bodies} "
        f"bodies valid against Stripe's OpenAPI description; {report.objects} objects of "
        f"{len(report.kinds)} kinds checked for {report.fields_checked} current fields; "
        f"{len(report.problems)} differences"
    )
    assert report.problems == []
