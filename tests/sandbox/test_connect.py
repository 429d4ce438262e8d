"""Connected accounts, transfers and transfer reversals."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from graphql_payments.sandbox import Sandbox
from tests.sandbox.helpers import paid_intent

pytestmark = pytest.mark.anyio


async def express_account(client: Any) -> Any:
    return await client.v1.accounts.create_async(
        params={
            "type": "express",
            "country": "US",
            "email": "seller@shop.test",
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"seller": "9"},
        }
    )


async def test_accounts_are_created_ready_to_receive_transfers(client: Any) -> None:
    # when
    account = await express_account(client)
    fetched = await client.v1.accounts.retrieve_async(account.id)

    # then
    assert account.id.startswith("acct_")
    assert account.type == "express"
    assert (fetched.charges_enabled, fetched.payouts_enabled, fetched.details_submitted) == (
        True,
        True,
        True,
    )
    assert fetched.capabilities.transfers == "active"
    assert fetched.metadata["seller"] == "9"


async def test_transfer_from_a_charge_and_reversals(client: Any, sandbox: Sandbox) -> None:
    # given
    account = await express_account(client)
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


async def test_reversal_never_exceeds_what_is_left(client: Any) -> None:
    # given
    account = await express_account(client)
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


async def test_transfer_beyond_the_source_charge_is_refused(client: Any) -> None:
    # given
    account = await express_account(client)
    intent = await paid_intent(client, amount=5000)

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.transfers.create_async(
            params={"amount": 5001, "currency": "usd", "destination": account.id,
                    "source_transaction": intent.latest_charge}
        )  # fmt: skip

    # then
    assert raised.value.param == "amount"


async def test_transfer_without_source_needs_available_balance(client: Any) -> None:
    # given
    account = await express_account(client)

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


async def test_transfer_to_unknown_account(client: Any) -> None:
    # given
    await paid_intent(client, amount=10000)

    # when
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.transfers.create_async(
            params={"amount": 100, "currency": "usd", "destination": "acct_nope"}
        )

    # then
    assert raised.value.param == "destination"


async def test_transfer_to_an_account_without_the_transfers_capability(client: Any) -> None:
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
    account = await express_account(client)

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
