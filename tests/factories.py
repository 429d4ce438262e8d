"""Payments in every state, for tests in any folder.

`payment_in` gets there the way production does: GraphQL mutations, the real `stripe` SDK
against the sandbox, and its webhooks; it returns what `paymentStatus` shows (admin view).
`payment_rows` writes rows straight to the database, for tests about reading many payments.

    paid = await payment_in(gql, sandbox, PaymentStatus.SUCCEEDED)
    held = await payment_in(gql, sandbox, PaymentStatus.AUTHORIZED, order="order-9")
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from graphql_payments.payments import repository
from graphql_payments.payments.models import Payment, PaymentKind, PaymentStatus
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.escrow.flows import BY_ORDER, authorize, release, revert
from tests.helpers import GraphQLClient, as_admin, checkout
from tests.refunds.flows import buy, open_dispute, payment, refund

S = PaymentStatus
ROWS_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def payment_in(
    gql: GraphQLClient,
    sandbox: Sandbox,
    status: PaymentStatus,
    *,
    user: str = "alice",
    key: str = "factory-1",
    order: str = "order-1",
) -> dict[str, Any]:
    """A payment in `status`: a credit purchase, or an escrow for the escrow-only statuses."""
    if status is S.PENDING:
        started = await checkout(gql, user, key=key)
        found = await payment(gql, started["payment"]["id"])
    elif status in (S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED):
        found = await buy(gql, sandbox, user=user, key=key)
        if status is S.PARTIALLY_REFUNDED:
            await refund(gql, found["id"], amount=found["amount"]["amount"] // 4, key=key)
        elif status is S.REFUNDED:
            await refund(gql, found["id"], key=key)
        elif status is S.DISPUTED:
            await open_dispute(gql, sandbox, found)
        found = await payment(gql, found["id"])
    else:
        found = await _escrow_in(gql, sandbox, status, user=user, key=key, order=order)
    assert found["status"] == status.value, found
    return found


async def _escrow_in(
    gql: GraphQLClient, sandbox: Sandbox, status: PaymentStatus, *, user: str, key: str, order: str
) -> dict[str, Any]:
    cards = {
        S.REQUIRES_ACTION: "pm_card_threeDSecure2Required",
        S.FAILED: "pm_card_chargeDeclined",
    }
    await authorize(
        gql, order=order, user=user, key=key, payment_method=cards.get(status, "pm_card_visa")
    )
    if status is S.RELEASED:
        await release(gql, order)
    elif status is S.REVERTED:
        await revert(gql, order)
    elif status is S.EXPIRED:
        await sandbox.advance_clock(7 * 24 * 3600 + 3600)
    elif status not in (S.AUTHORIZED, S.REQUIRES_ACTION, S.FAILED):
        raise ValueError(f"no flow leads to {status.value}")
    await sandbox.webhooks.wait_idle()
    data = await gql.data(BY_ORDER, {"o": order}, headers=as_admin())
    result: dict[str, Any] = data["paymentStatus"]
    return result


async def payment_rows(
    services: Services,
    count: int,
    *,
    user_id: str = "alice",
    status: PaymentStatus = PaymentStatus.SUCCEEDED,
    kind: PaymentKind = PaymentKind.CREDIT_PURCHASE,
    offset: int = 0,
) -> list[str]:
    """`count` payments written straight to the database, one minute apart from ROWS_START;
    escrow payments are for orders `order-0000`, `order-0001`, ..."""
    ids = []
    async with services.db.transaction() as session:
        for n in range(offset, offset + count):
            row = Payment(
                id=f"pay_{user_id}_{n:04d}",
                user_id=user_id,
                kind=kind,
                status=status,
                amount=1000,
                currency="USD",
                credits=100 if kind is PaymentKind.CREDIT_PURCHASE else None,
                order_id=f"order-{n:04d}" if kind is PaymentKind.ESCROW else None,
                created_at=ROWS_START + dt.timedelta(minutes=n),
            )
            await repository.add(session, row)
            ids.append(row.id)
    return ids
