"""Random histories of purchases, refunds, disputes and duplicated or reordered webhooks keep
every invariant: refunded never exceeds captured, our totals equal Stripe's, and each balance is
exactly what the payments, refunds and disputes call for.

PAYMENTS_TEST_PROPERTY_EXAMPLES sets how many histories to try (12 by default, more to dig).
"""

from __future__ import annotations

import contextlib
import os
import random
import uuid
from typing import Any

import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from graphql_payments.ledger import repository as ledger
from graphql_payments.payments.models import Payment
from graphql_payments.payments.states import settled_status
from graphql_payments.refunds import repository as refunds
from graphql_payments.refunds.models import Dispute
from graphql_payments.refunds.service import SETTLED, credits_share
from graphql_payments.sandbox import Sandbox, SandboxError
from graphql_payments.services import Services
from graphql_payments.webhooks.handlers import NotOurs
from tests.helpers import GraphQLClient, sandbox_client
from tests.refunds.flows import buy, charge_of, refund

STEP = st.one_of(
    st.tuples(st.just("buy"), st.integers(0, 0), st.integers(0, 0)),
    st.tuples(st.just("refund"), st.integers(0, 3), st.integers(1, 100)),
    st.tuples(st.just("dashboard_refund"), st.integers(0, 3), st.integers(1, 100)),
    st.tuples(st.just("fail_refund"), st.integers(0, 3), st.integers(0, 0)),
    st.tuples(st.just("dispute"), st.integers(0, 3), st.integers(0, 2)),
    st.tuples(st.just("replay"), st.integers(0, 1000), st.integers(0, 0)),
)


async def expected_balance(services: Services, user_id: str) -> int:
    """A user's credits from first principles: bought, minus refunded share, minus disputes."""
    async with services.db.reading() as session:
        payments = list(
            (await session.execute(select(Payment).where(Payment.user_id == user_id))).scalars()
        )
        disputes = list((await session.execute(select(Dispute))).scalars())
    total = 0
    for payment in payments:
        if payment.refunded_amount or payment.status.value in (
            "SUCCEEDED", "PARTIALLY_REFUNDED", "REFUNDED", "DISPUTED",
        ):  # fmt: skip
            total += (payment.credits or 0) - credits_share(payment, payment.refunded_amount)
        for dispute in disputes:
            if dispute.payment_id == payment.id and dispute.status != "won":
                total -= dispute.credits_held
    return total


async def check_invariants(services: Services, sandbox: Sandbox, user_id: str) -> None:
    await sandbox.webhooks.wait_idle()
    assert await services.credits.verify_ledger() == []
    async with services.db.reading() as session:
        payments = list(
            (await session.execute(select(Payment).where(Payment.user_id == user_id))).scalars()
        )
        balance = await ledger.balance(session, user_id)
    for payment in payments:
        assert payment.refunded_amount + payment.dispute_lost_amount <= payment.amount
        if payment.stripe_payment_intent_id:
            charge = await charge_of(sandbox, payment.stripe_payment_intent_id)
            assert payment.refunded_amount == charge["amount_refunded"], payment.id
        if payment.status in SETTLED:
            # The status is what the totals say, whatever order events came in.
            async with services.db.reading() as session:
                dispute_open = await refunds.has_open_dispute(session, payment.id)
            assert payment.status is settled_status(
                payment.kind,
                basis=payment.amount,
                returned=payment.refunded_amount + payment.dispute_lost_amount,
                dispute_open=dispute_open,
            ), payment.id
    assert balance == await expected_balance(services, user_id)


async def step(
    kind: str,
    pick: int,
    size: int,
    *,
    gql: GraphQLClient,
    sandbox: Sandbox,
    services: Services,
    user_id: str,
    paid: list[dict[str, Any]],
    first_event: int,
) -> None:
    if kind == "buy" or not paid:
        paid.append(await buy(gql, sandbox, user=user_id, key=uuid.uuid4().hex))
        return
    target = paid[pick % len(paid)]
    intent_id = target["stripePaymentIntentId"]
    if kind == "refund":
        result = await refund(
            gql, target["id"], amount=max(1, 1000 * size // 100), key=uuid.uuid4().hex, force=True
        )
        assert result["__typename"] in {
            "RefundSuccess", "ValidationError", "AlreadyRefundedError", "InvalidStatusError",
            "PaymentProviderError",
        }, result  # fmt: skip
    elif kind == "dashboard_refund":
        charge = await charge_of(sandbox, intent_id)
        left = charge["amount_captured"] - charge["amount_refunded"]
        if left > 0:
            # A disputed charge cannot be refunded, as at Stripe.
            with contextlib.suppress(stripe.InvalidRequestError):
                await sandbox_client(sandbox).v1.refunds.create_async(
                    params={"payment_intent": intent_id, "amount": max(1, left * size // 100)}
                )
    elif kind == "fail_refund":
        refunds = [
            r
            for r in sandbox.objects("refund")
            if r["payment_intent"] == intent_id and r["status"] == "succeeded"
        ]
        if refunds:
            await sandbox.fail_refund(refunds[-1]["id"])
    elif kind == "dispute":
        charge = await charge_of(sandbox, intent_id)
        try:
            dispute = await sandbox.create_dispute(charge["id"], reason="fraudulent")
        except SandboxError:
            return
        if size:
            await sandbox.close_dispute(dispute["id"], won=size == 1)
    elif kind == "replay":
        # Every event of this history again, shuffled, straight to the handlers.
        await sandbox.webhooks.wait_idle()
        events = list(sandbox.events[first_event:])
        random.Random(pick).shuffle(events)
        for event in events:
            with contextlib.suppress(NotOurs):
                await services.inbox.handlers.handle(event)


@settings(
    max_examples=int(os.environ.get("PAYMENTS_TEST_PROPERTY_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=1, max_size=7))
async def test_random_histories_keep_the_invariants(
    gql: GraphQLClient,
    sandbox: Sandbox,
    services: Services,
    steps: list[tuple[str, int, int]],
) -> None:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    paid: list[dict[str, Any]] = []
    first_event = len(sandbox.events)
    for kind, pick, size in steps:
        await step(
            kind, pick, size, gql=gql, sandbox=sandbox, services=services, user_id=user_id,
            paid=paid, first_event=first_event,
        )  # fmt: skip
        await check_invariants(services, sandbox, user_id)
