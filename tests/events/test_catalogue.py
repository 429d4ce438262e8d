"""Each flow writes exactly the events of the catalogue it means, numbered per payment."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from graphql_payments.events import catalogue
from graphql_payments.events.catalogue import EventType
from graphql_payments.events.models import OutboxEvent
from graphql_payments.ledger.models import CreditEntry, EntryReason
from graphql_payments.ledger.repository import event_for
from graphql_payments.payments import repository as payments
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.escrow.flows import authorize, revert
from tests.events.helpers import assert_valid
from tests.helpers import GraphQLClient, checkout
from tests.refunds.flows import buy, open_dispute

pytestmark = pytest.mark.anyio


async def outbox(services: Services, payment_id: str) -> list[OutboxEvent]:
    async with services.db.reading() as session:
        query = (
            select(OutboxEvent)
            .where(OutboxEvent.payment_id == payment_id)
            .order_by(OutboxEvent.position)
        )
        rows = list((await session.scalars(query)).all())
    assert [r.sequence for r in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        message: dict[str, Any] = {
            "type": row.type,
            "timestamp": row.data["occurredAt"],
            "data": row.data,
        }
        assert_valid(message)
    return rows


async def test_a_lost_dispute_is_announced_opened_then_closed(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    paid = await buy(gql, sandbox)
    dispute = await open_dispute(gql, sandbox, paid)
    # when
    await sandbox.close_dispute(dispute["id"], won=False)
    await sandbox.webhooks.wait_idle()
    # then
    events = await outbox(services, paid["id"])
    assert [e.type for e in events] == [
        "payment.created",
        "payment.succeeded",
        "credits.granted",
        "payment.disputed",
        "credits.revoked",
        "dispute.closed",
    ]
    closed = events[-1].data
    assert closed["dispute"]["status"] == "lost"  # type: ignore[index]


async def test_a_won_dispute_gives_the_credits_back(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    paid = await buy(gql, sandbox)
    dispute = await open_dispute(gql, sandbox, paid, amount=500)
    # when
    await sandbox.close_dispute(dispute["id"], won=True)
    await sandbox.webhooks.wait_idle()
    # then
    types = [e.type for e in await outbox(services, paid["id"])]
    assert types[3:] == ["payment.disputed", "credits.revoked", "dispute.closed", "credits.granted"]


async def test_an_expired_checkout_is_announced(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    started = await checkout(gql)
    # when
    await sandbox.advance_clock(25 * 3600)
    await sandbox.webhooks.wait_idle()
    # then
    types = [e.type for e in await outbox(services, started["payment"]["id"])]
    assert types == ["payment.created", "payment.expired"]


async def test_a_declined_escrow_fails_and_a_reverted_hold_is_announced(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    declined = await authorize(gql, order="o-declined", payment_method="pm_card_chargeDeclined")
    held = await authorize(gql, order="o-held")
    # when
    await revert(gql, "o-held")
    await sandbox.webhooks.wait_idle()
    # then
    assert declined["__typename"] == "PaymentProviderError", declined
    async with services.db.reading() as session:
        failed = await payments.latest_for_order(session, "o-declined")
    assert failed is not None
    assert [e.type for e in await outbox(services, failed.id)] == [
        "payment.created",
        "payment.failed",
    ]
    reverted = [e.type for e in await outbox(services, held["payment"]["id"])]
    assert reverted == ["payment.created", "escrow.authorized", "escrow.reverted"]


@pytest.mark.parametrize(
    ("reason", "delta", "expected"),
    [
        (EntryReason.PURCHASE, 100, EventType.CREDITS_GRANTED),
        (EntryReason.REFUND_RESTORED, 40, EventType.CREDITS_GRANTED),
        (EntryReason.DISPUTE_RELEASED, 50, EventType.CREDITS_GRANTED),
        (EntryReason.REFUND, -40, EventType.CREDITS_REVOKED),
        (EntryReason.DISPUTE_HOLD, -50, EventType.CREDITS_REVOKED),
        (EntryReason.ADJUSTMENT, -5, EventType.CREDITS_CONSUMED),
        (EntryReason.ADJUSTMENT, 5, EventType.CREDITS_GRANTED),
    ],
)
def test_each_ledger_entry_is_announced_as_its_event(
    reason: EntryReason, delta: int, expected: EventType
) -> None:
    assert event_for(reason, delta) is expected


def test_every_event_type_has_a_description_and_a_schema() -> None:
    for kind in EventType:
        schema = catalogue.schema(kind)
        assert schema["properties"]["type"] == {"const": kind.value}
        assert schema["description"] == catalogue.DESCRIPTIONS[kind]


async def test_credits_spent_outside_a_payment_are_announced_in_order_per_user(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    await buy(gql, sandbox, user="alice")
    # when: two uses of credits recorded by another flow
    async with services.db.transaction() as session:
        for n in (1, 2):
            session.add(
                CreditEntry(
                    user_id="alice", delta=-5 * n, reason=EntryReason.ADJUSTMENT, reference=f"u{n}"
                )
            )
            await session.flush()
    # then
    async with services.db.reading() as session:
        query = select(OutboxEvent).where(OutboxEvent.subject == "user:alice")
        rows = list((await session.scalars(query.order_by(OutboxEvent.position))).all())
    assert [(r.type, r.sequence) for r in rows] == [
        ("credits.consumed", 1),
        ("credits.consumed", 2),
    ]
    assert rows[1].data["credits"] == {"delta": -10, "reason": "ADJUSTMENT", "reference": "u2"}
    assert rows[1].data["paymentId"] is None
    assert_valid({"type": rows[1].type, "timestamp": "2026-01-01T00:00:00Z", "data": rows[1].data})
