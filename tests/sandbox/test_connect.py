"""Connected accounts, transfers and transfer reversals."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from graphql_payments.sandbox import Sandbox
from tests.sandbox.helpers import paid_intent

pytestmark = pytest.mark.anyio


async def express_account(client: Any, sandbox: Sandbox) -> Any:
    """An Express account whose holder finished onboarding."""
    account = await client.v1.accounts.create_async(
        params={
            "type": "express",
            "country": "US",
            "email": "seller@shop.test",
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"seller": "9"},
        }
    )
    await sandbox.complete_onboarding(account.id)
    return account


async def test_accounts_start_with_requirements_and_onboarding_enables_them(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    created = await client.v1.accounts.create_async(
        params={"type": "express", "country": "US", "email": "seller@shop.test",
                "capabilities": {"transfers": {"requested": True}}, "metadata": {"seller": "9"}}
    )  # fmt: skip

    # when
    await paid_intent(client, amount=10000)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.transfers.create_async(
            params={"amount": 100, "currency": "usd", "destination": created.id}
        )
    await sandbox.complete_onboarding(created.id)
    onboarded = await client.v1.accounts.retrieve_async(created.id)

    # then: nothing enabled until the holder provides what is due
    assert (created.charges_enabled, created.payouts_enabled, created.details_submitted) == (
        False,
        False,
        False,
    )
    assert created.capabilities.transfers == "inactive"
    assert "tos_acceptance.date" in created.requirements.currently_due
    assert refused.value.code == "insufficient_capabilities_for_transfer"
    assert (onboarded.payouts_enabled, onboarded.details_submitted) == (True, True)
    assert onboarded.capabilities.transfers == "active"
    assert onboarded.requirements.currently_due == []
    assert onboarded.metadata["seller"] == "9"
    updated = sandbox.events_of("account.updated")
    assert [e["data"]["previous_attributes"]["capabilities"] for e in updated] == [
        {"transfers": "inactive"}
    ]


async def test_providing_the_requirements_through_the_api_enables_the_account(
    client: Any,
) -> None:
    # given
    wanted = {"card_payments": {"requested": True}, "transfers": {"requested": True}}
    account = await client.v1.accounts.create_async(
        params={"type": "custom", "country": "US", "capabilities": wanted}
    )

    # when
    half = await client.v1.accounts.update_async(
        account.id, params={"business_type": "individual", "external_account": "btok_us_verified"}
    )
    done = await client.v1.accounts.update_async(
        account.id,
        params={"business_profile": {"url": "https://runner.test"},
                "tos_acceptance": {"date": 1700000000, "ip": "203.0.113.9"}},
    )  # fmt: skip

    # then
    assert sorted(half.requirements.currently_due) == [
        "business_profile.url",
        "tos_acceptance.date",
        "tos_acceptance.ip",
    ]
    assert half.capabilities.transfers == "inactive"
    assert (done.charges_enabled, done.payouts_enabled) == (True, True)
    assert done.capabilities.to_dict() == {"card_payments": "active", "transfers": "active"}
    assert done.tos_acceptance.ip == "203.0.113.9"


async def test_transfer_from_a_charge_and_reversals(client: Any, sandbox: Sandbox) -> None:
    # given
    account = await express_account(client, sandbox)
    intent = await paid_intent(client, amount=10000, transfer_group="order-5")

    # when
    transfer = await client.v1.transfers.create_async(
        params={"amount": 8000, "currency": "usd", "destination": account.id,
                "source_transaction": intent.latest_charge, "transfer_group": "order-5",
                "metadata": {"escrow": "5"}}
    )  # fmt: skip
    partial = await client.v1.transfers.reversals.create_async(transfer.id, params={"amount": 3000})
    rest = await client.v1.transfers.reversals.create_async(transfer.id)

    # then
    assert transfer.object == "transfer"
    assert (transfer.destination, transfer.source_transaction) == (account.id, intent.latest_charge)
    assert partial.amount == 3000
    assert rest.amount == 5000
    refreshed = await client.v1.transfers.retrieve_async(transfer.id)
    assert (refreshed.amount_reversed, refreshed.reversed) == (8000, True)
    assert [r.id for r in refreshed.reversals.data] == [rest.id, partial.id]
    types = [event["type"] for event in sandbox.events]
    assert types[-3:] == ["transfer.created", "transfer.reversed", "transfer.reversed"]
    listed = await client.v1.transfers.list_async(params={"transfer_group": "order-5"})
    assert [t.id for t in listed.data] == [transfer.id]


async def test_reversal_never_exceeds_what_is_left(client: Any, sandbox: Sandbox) -> None:
    # given
    account = await express_account(client, sandbox)
    intent = await paid_intent(client, amount=5000)
    transfer = await client.v1.transfers.create_async(
        params={"amount": 4000, "currency": "usd", "destination": account.id,
                "source_transaction": intent.latest_charge}
    )  # fmt: skip
    await client.v1.transfers.reversals.create_async(transfer.id, params={"amount": 3000})

    # when
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        await client.v1.transfers.reversals.create_async(transfer.id, params={"amount": 1001})
    await client.v1.transfers.reversals.create_async(transfer.id)
    with pytest.raises(stripe.InvalidRequestError) as nothing_left:
        await client.v1.transfers.reversals.create_async(transfer.id)

    # then
    assert too_much.value.param == "amount"
    assert nothing_left.value.param == "amount"


async def test_transfer_beyond_the_source_charge_is_refused(client: Any, sandbox: Sandbox) -> None:
    # given
    account = await express_account(client, sandbox)
    intent = await paid_intent(client, amount=5000)

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.transfers.create_async(
            params={"amount": 5001, "currency": "usd", "destination": account.id,
                    "source_transaction": intent.latest_charge}
        )  # fmt: skip

    # then
    assert raised.value.param == "amount"


async def test_transfer_without_source_needs_available_balance(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    account = await express_account(client, sandbox)

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.transfers.create_async(
            params={"amount": 1000, "currency": "usd", "destination": account.id}
        )
    await paid_intent(client, amount=10000)
    transfer = await client.v1.transfers.create_async(
        params={"amount": 1000, "currency": "usd", "destination": account.id}
    )

    # then
    assert raised.value.code == "balance_insufficient"
    assert transfer.amount == 1000


async def test_transfer_to_unknown_account(client: Any, sandbox: Sandbox) -> None:
    # given
    await paid_intent(client, amount=10000)

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.transfers.create_async(
            params={"amount": 100, "currency": "usd", "destination": "acct_nope"}
        )

    # then
    assert raised.value.param == "destination"


async def test_transfer_to_an_account_without_the_transfers_capability(
    client: Any, sandbox: Sandbox
) -> None:
    # given
    await paid_intent(client, amount=10000)
    account = await client.v1.accounts.create_async(
        params={"type": "express", "capabilities": {"card_payments": {"requested": True}}}
    )

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.transfers.create_async(
            params={"amount": 100, "currency": "usd", "destination": account.id}
        )

    # then
    assert raised.value.code == "insufficient_capabilities_for_transfer"
    assert raised.value.param == "destination"


async def test_destination_charge_transfers_on_capture(client: Any, sandbox: Sandbox) -> None:
    # given
    account = await express_account(client, sandbox)

    # when
    intent = await paid_intent(
        client, amount=10000, transfer_data={"destination": account.id},
        application_fee_amount=1000,
    )  # fmt: skip

    # then
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)
    transfer = await client.v1.transfers.retrieve_async(charge.transfer)
    assert (transfer.amount, transfer.destination) == (9000, account.id)
    assert "transfer.created" in [event["type"] for event in sandbox.events]
