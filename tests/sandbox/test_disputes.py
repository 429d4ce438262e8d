"""Disputes opened and decided by the card network (the sandbox helpers)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from graphql_payments.sandbox import Sandbox, SandboxError
from tests.sandbox.helpers import paid_intent

pytestmark = pytest.mark.anyio


async def test_dispute_opens_and_is_won(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client, amount=4200)

    # when
    dispute = await sandbox.create_dispute(intent.latest_charge, reason="product_not_received")
    won = await sandbox.close_dispute(dispute["id"], won=True)

    # then
    assert dispute["id"].startswith("dp_")
    assert (dispute["status"], dispute["amount"], dispute["reason"]) == (
        "needs_response",
        4200,
        "product_not_received",
    )
    assert dispute["payment_intent"] == intent.id
    assert won["status"] == "won"
    fetched = await client.v1.disputes.retrieve_async(dispute["id"])
    assert fetched.status == "won"
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)
    assert charge.disputed is True
    types = [event["type"] for event in sandbox.events]
    assert "charge.dispute.created" in types
    assert types[-3:] == [
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_reinstated",
    ]


async def test_dispute_is_lost(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client)
    dispute = await sandbox.create_dispute(intent.latest_charge, amount=500)

    # when
    lost = await sandbox.close_dispute(dispute["id"], won=False)

    # then
    assert (lost["status"], lost["amount"]) == ("lost", 500)
    assert [event["type"] for event in sandbox.events][-2:] == [
        "charge.dispute.updated",
        "charge.dispute.closed",
    ]
    with pytest.raises(SandboxError):
        await sandbox.close_dispute(dispute["id"], won=True)


async def test_evidence_then_accepting_through_the_api(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client)
    dispute = await sandbox.create_dispute(intent.latest_charge)

    # when
    reviewed = await client.v1.disputes.update_async(
        dispute["id"], params={"evidence": {"uncategorized_text": "Delivered on time."}}
    )
    closed = await client.v1.disputes.close_async(dispute["id"])

    # then
    assert reviewed.status == "under_review"
    assert reviewed.evidence.uncategorized_text == "Delivered on time."
    assert closed.status == "lost"


async def test_only_captured_charges_can_be_disputed(client: Any, sandbox: Sandbox) -> None:
    # given
    intent = await paid_intent(client, capture_method="manual")

    # when
    with pytest.raises(SandboxError):
        await sandbox.create_dispute(intent.latest_charge)
    with pytest.raises(SandboxError) as missing:
        await sandbox.create_dispute("ch_missing")

    # then
    assert (missing.value.status, missing.value.code) == (400, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.disputes.retrieve_async("dp_missing")
