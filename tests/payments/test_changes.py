"""A Checkout Session's change of a payment is read and written with Core statements: it writes
what the ORM's unit of work would (the same row, the same events in the same order), it is
checked against the version it read, and a payment the session holds is changed as that
object."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from graphql_payments.events.models import OutboxEvent
from graphql_payments.gateway import PAYMENT_ID_KEY
from graphql_payments.gateway.objects import StripeCheckoutSession
from graphql_payments.payments import repository
from graphql_payments.payments.models import Payment, PaymentStatus
from graphql_payments.services import Services
from tests.factories import payment_rows

pytestmark = pytest.mark.anyio

# Columns that differ between two payments by their ids and moments alone.
VOLATILE = {"id", "created_at", "updated_at", "stripe_checkout_session_id"}
VOLATILE |= {"stripe_payment_intent_id"}


def paid(payment_id: str) -> StripeCheckoutSession:
    return StripeCheckoutSession(
        id=f"cs_{payment_id}",
        url=None,
        status="complete",
        payment_status="paid",
        amount_total=1000,
        currency="USD",
        customer_id="cus_alice",
        client_reference_id=payment_id,
        payment_intent_id=f"pi_{payment_id}",
        metadata={PAYMENT_ID_KEY: payment_id},
    )


async def written(services: Services, payment_id: str) -> tuple[dict[str, Any], list[Any]]:
    """The payment's row and its events (type and data), without what names it."""
    async with services.db.reading() as session:
        row = (
            await session.execute(select(*Payment.__table__.c).where(Payment.id == payment_id))
        ).one()
        events = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.payment_id == payment_id)
                .order_by(OutboxEvent.position)
            )
        ).all()
    columns = {k: v for k, v in row._mapping.items() if k not in VOLATILE}
    shown = []
    for event in events:
        naming = ("eventId", "occurredAt", "subject", "paymentId")
        data: dict[str, Any] = {k: v for k, v in event.data.items() if k not in naming}
        if "payment" in data:
            data["payment"] = {k: v for k, v in data["payment"].items() if k != "id"}
        shown.append((event.type, event.sequence, data))
    return columns, shown


async def test_a_change_read_with_core_writes_what_the_orm_writes(services: Services) -> None:
    # given: two pending purchases alike
    by_orm, by_core = await payment_rows(services, 2, status=PaymentStatus.PENDING)
    # when: each is paid, one held by the session (so changed through the ORM's unit of
    # work), the other read and written with Core statements
    async with services.db.transaction() as session:
        held = await repository.get(session, by_orm)
        assert await repository.find_for_change(session, {"id": by_orm}) is held
        await services.payments.apply_checkout_session(paid(by_orm), session=session)
    async with services.db.transaction() as session:
        await services.payments.apply_checkout_session(paid(by_core), session=session)
        assert not session.identity_map  # no ORM object was loaded
    # then: the same row and the same events, in the same order
    orm_row, orm_events = await written(services, by_orm)
    core_row, core_events = await written(services, by_core)
    assert core_row == orm_row
    assert core_row["status"] is PaymentStatus.SUCCEEDED
    assert core_row["version"] == 2
    assert [(kind, sequence) for kind, sequence, _ in core_events] == [
        ("payment.created", 1),
        ("payment.succeeded", 2),
        ("credits.granted", 3),
    ]
    assert core_events == orm_events
    assert await services.credits.balance("alice") == 200


async def pay_after_another_writer(services: Services, payment_id: str) -> None:
    async with services.db.transaction() as session:
        payment = await repository.find_for_change(session, {"id": payment_id})
        assert payment is not None
        bump = update(Payment).where(Payment.id == payment_id)
        await session.execute(bump.values(version=Payment.version + 1))
        payment.status = PaymentStatus.SUCCEEDED
        await repository.save(session, payment)


async def test_a_change_to_a_payment_changed_since_it_was_read_is_refused(
    services: Services,
) -> None:
    # given: a pending purchase
    (payment_id,) = await payment_rows(services, 1, status=PaymentStatus.PENDING)
    # when: another writer changes it between our read and our write
    with pytest.raises(StaleDataError):
        await pay_after_another_writer(services, payment_id)
    # then: the transaction wrote nothing, and the payment is as it was
    row, events = await written(services, payment_id)
    assert (row["status"], row["version"]) == (PaymentStatus.PENDING, 1)
    assert [kind for kind, _, _ in events] == ["payment.created"]


@pytest.mark.parametrize("reported", [999, "1000"], ids=["other amount", "amount as text"])
async def test_a_session_paid_for_another_amount_fulfils_nothing(
    services: Services, reported: Any, caplog: pytest.LogCaptureFixture
) -> None:
    (payment_id,) = await payment_rows(services, 1, status=PaymentStatus.PENDING)
    session_paid = dataclasses.replace(paid(payment_id), amount_total=reported)
    async with services.db.transaction() as session:
        await services.payments.apply_checkout_session(session_paid, session=session)
    columns, events = await written(services, payment_id)
    # then: still pending, marked as a mismatch, no credits; the log shows what Stripe sent
    assert columns["status"] is PaymentStatus.PENDING
    assert columns["failure_code"] == "amount_mismatch"
    assert [event[0] for event in events if event[0].startswith("credits.")] == []
    assert await services.credits.balance("alice") == 0
    assert f"Stripe reports {reported!r} USD but we expected 1000 USD" in caplog.text
