"""Events to webhook endpoints: the right events, in order, signed, retried, dead-lettered."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from graphql_payments.events.models import OutboxEvent
from graphql_payments.payments import repository as payments
from graphql_payments.payments.models import PaymentStatus
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.escrow.flows import authorize, release, runner_account
from tests.events.helpers import (
    Receiver,
    assert_valid,
    create_endpoint,
    deliveries,
    in_order,
    relay_until_idle,
)
from tests.helpers import GraphQLClient, as_admin, serving
from tests.refunds.flows import buy, refund

pytestmark = pytest.mark.anyio

REDELIVER = """
mutation($input: RedeliverInput!) {
  redeliver(input: $input) {
    __typename
    ... on RedeliverSuccess { delivery { id status attempts } }
    ... on UserError { code message }
  }
}
"""


async def test_a_credit_purchase_sends_created_succeeded_granted_in_order(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    receiver = Receiver()
    async with serving(receiver.app) as url:
        endpoint = await create_endpoint(gql, f"{url}/hook")
        receiver.secret = endpoint["secret"]
        # when
        paid = await buy(gql, sandbox, user="alice")
        await relay_until_idle(services)
    # then
    assert in_order(receiver.events, paid["id"]) == [
        "payment.created",
        "payment.succeeded",
        "credits.granted",
    ]
    for message in receiver.events:
        assert_valid(message)
    succeeded = receiver.events[1]
    assert succeeded["data"]["payment"]["status"] == "SUCCEEDED"
    assert succeeded["data"]["payment"]["amount"] == 1000
    assert receiver.events[2]["data"]["credits"] == {
        "delta": 100,
        "reason": "PURCHASE",
        "reference": "",
    }
    assert receiver.headers[0]["webhook-id"].startswith("evt_")
    assert receiver.headers[0]["webhook-signature"].startswith("v1,")


async def test_an_escrow_release_sends_created_authorized_released(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    receiver = Receiver()
    account = await runner_account(sandbox)
    async with serving(receiver.app) as url:
        endpoint = await create_endpoint(gql, f"{url}/hook")
        receiver.secret = endpoint["secret"]
        held = await authorize(gql, order="order-ev")
        # when
        released = await release(gql, "order-ev", runnerAccountId=account)
        await sandbox.webhooks.wait_idle()
        await relay_until_idle(services)
    # then
    assert released["__typename"] == "ReleaseSuccess", released
    assert in_order(receiver.events, held["payment"]["id"]) == [
        "payment.created",
        "escrow.authorized",
        "escrow.released",
    ]
    last = receiver.events[-1]["data"]["payment"]
    assert last["capturedAmount"] == 2500
    assert last["platformFee"] == 250
    for message in receiver.events:
        assert_valid(message)


async def test_a_refund_sends_refunded_and_revoked(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    receiver = Receiver()
    async with serving(receiver.app) as url:
        endpoint = await create_endpoint(gql, f"{url}/hook")
        receiver.secret = endpoint["secret"]
        paid = await buy(gql, sandbox)
        # when
        refunded = await refund(gql, paid["id"], amount=400)
        await sandbox.webhooks.wait_idle()
        await relay_until_idle(services)
    # then
    assert refunded["__typename"] == "RefundSuccess", refunded
    assert in_order(receiver.events, paid["id"]) == [
        "payment.created",
        "payment.succeeded",
        "credits.granted",
        "payment.refunded",
        "credits.revoked",
    ]
    refund_event, revoked = receiver.events[3], receiver.events[4]
    assert refund_event["data"]["refund"] == {
        "amount": 400,
        "refundedAmount": 400,
        "currency": "USD",
    }
    assert refund_event["data"]["payment"]["status"] == "PARTIALLY_REFUNDED"
    assert revoked["data"]["credits"]["delta"] == -40
    for message in receiver.events:
        assert_valid(message)


async def test_a_receiver_failing_five_times_still_gets_every_event_once_in_order(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    receiver = Receiver(fail_first=5)
    async with serving(receiver.app) as url:
        endpoint = await create_endpoint(gql, f"{url}/hook")
        receiver.secret = endpoint["secret"]
        # when
        paid = await buy(gql, sandbox)
        await relay_until_idle(services)
    # then
    assert receiver.requests == 5 + 3
    assert in_order(receiver.events, paid["id"]) == [
        "payment.created",
        "payment.succeeded",
        "credits.granted",
    ]
    log = await deliveries(gql, endpointId=endpoint["endpoint"]["id"])
    assert log["totalCount"] == 3
    assert {n["node"]["status"] for n in log["edges"]} == {"DELIVERED"}
    assert sum(n["node"]["attempts"] for n in log["edges"]) == 8


async def test_after_the_last_attempt_a_delivery_is_dead_lettered_and_can_be_redelivered(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    services.settings = services.settings.model_copy(update={"events_max_attempts": 3})
    services.relay.settings = services.settings
    receiver = Receiver(fail_first=1000)
    async with serving(receiver.app) as url:
        endpoint = await create_endpoint(gql, f"{url}/hook", events=["payment.succeeded"])
        receiver.secret = endpoint["secret"]
        paid = await buy(gql, sandbox)
        # when
        await relay_until_idle(services)
        dead = await deliveries(gql, status="DEAD")
        receiver.fail_first = 0
        redone = await gql.data(
            REDELIVER,
            {"input": {"deliveryId": dead["edges"][0]["node"]["id"]}},
            headers=as_admin(),
        )
        await relay_until_idle(services)
    # then
    assert dead["totalCount"] == 1
    node = dead["edges"][0]["node"]
    assert node["attempts"] == 3
    assert node["lastStatusCode"] == 500
    assert node["eventType"] == "payment.succeeded"
    assert node["payload"]["data"]["paymentId"] == paid["id"]
    assert redone["redeliver"]["__typename"] == "RedeliverSuccess"
    assert [e["type"] for e in receiver.events] == ["payment.succeeded"]
    assert (await deliveries(gql, status="DEAD"))["totalCount"] == 0


async def test_a_change_that_rolls_back_leaves_no_event(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    paid = await buy(gql, sandbox)
    async with services.db.reading() as session:
        before = (await session.execute(select(func.count(OutboxEvent.position)))).scalar_one()
    # when
    with pytest.raises(RuntimeError):
        await _dispute_then_fail(services, paid["id"])
    # then
    async with services.db.reading() as session:
        after = (await session.execute(select(func.count(OutboxEvent.position)))).scalar_one()
        types = (await session.scalars(select(OutboxEvent.type))).all()
    assert after == before == 3
    assert "payment.disputed" not in types


async def _dispute_then_fail(services: Services, payment_id: str) -> None:
    async with services.db.transaction() as session:
        payment = await payments.lock(session, payment_id)
        payment.status = PaymentStatus.DISPUTED
        await session.flush()
        raise RuntimeError("something failed after the change")
