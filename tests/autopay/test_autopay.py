"""Autopay through GraphQL with the sandbox: monthly and threshold top-ups, declines and
retries, authentication, and card removal. Time moves with the sandbox clock."""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from graphql_payments.app import create_app
from graphql_payments.autopay import repository as autopay_repository
from graphql_payments.config import Settings
from graphql_payments.payments import repository as payments_repository
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.autopay.flows import (
    AUTOPAY,
    REMOVE,
    SET_AUTOPAY,
    SET_DEFAULT,
    advance_to,
    autopay,
    autopay_payments,
    consume,
    quiet_day,
    sandbox_now,
    save_card,
    set_autopay,
    settle,
)
from tests.helpers import (
    GraphQLClient,
    as_admin,
    as_user,
    balance,
    error_codes,
    sandbox_client,
)

DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
async def ledger_stays_sound(services: Services) -> AsyncIterator[None]:
    yield
    assert await services.credits.verify_ledger() == []


def _at(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


async def test_without_a_saved_card_autopay_is_refused(gql: GraphQLClient) -> None:
    # when
    result = await set_autopay(gql, packageId="basic", dayOfMonth=1)

    # then
    assert (result["__typename"], result["field"]) == ("ValidationError", "paymentMethodId")
    assert await autopay(gql) is None


async def test_autopay_settings_are_checked(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services
) -> None:
    # given
    await save_card(gql, http, services)
    bob_card = await save_card(gql, http, services, user_id="bob")

    # when / then
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({"packageId": "basic"}, "ValidationError", "dayOfMonth"),
        ({"packageId": "basic", "dayOfMonth": 32}, "ValidationError", "dayOfMonth"),
        ({"packageId": "basic", "belowBalance": 0}, "ValidationError", "belowBalance"),
        ({"credits": 5, "dayOfMonth": 1}, "ValidationError", "credits"),  # 0.50 USD < minimum
        ({"credits": 2_000_000, "dayOfMonth": 1}, "ValidationError", "credits"),  # > maximum
        ({"packageId": "basic", "credits": 100, "dayOfMonth": 1}, "ValidationError", "packageId"),
        ({"packageId": "gold", "dayOfMonth": 1}, "NotFoundError", None),
        ({"packageId": "basic", "dayOfMonth": 1, "paymentMethodId": bob_card}, "NotFoundError",
         None),
        ({"enabled": False}, "NotFoundError", None),
    ]  # fmt: skip
    for fields, typename, field in cases:
        result = await set_autopay(gql, **fields)
        assert result["__typename"] == typename, (fields, result)
        if field is not None:
            assert result["field"] == field, (fields, result)
    assert await autopay(gql) is None


async def test_monthly_autopay_on_day_31_runs_on_the_last_day_of_february(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given
    year = quiet_day(sandbox).year + 1
    february_ends = calendar.monthrange(year, 2)[1]  # the 28th, or the 29th in a leap year
    await save_card(gql, http, services)
    created = await set_autopay(gql, packageId="basic", dayOfMonth=31, idempotencyKey="m-1")
    assert created["__typename"] == "AutopaySuccess", created
    settings = created["autopay"]
    assert (settings["status"], settings["credits"], settings["amount"]) == (
        "ACTIVE",
        100,
        {"amount": 1000, "currency": "USD"},
    )
    assert settings["paymentMethod"]["id"].startswith("pm_")
    assert settings["paymentMethod"]["last4"] == "4242"
    assert await balance(gql) == 0

    # when: January 31st comes
    await advance_to(services, _at(year, 1, 31, 1))

    # then
    january = await autopay(gql)
    assert january["lastPayment"]["status"] == "SUCCEEDED"
    assert january["lastPayment"]["kind"] == "AUTOPAY"
    assert january["nextChargeAt"] == _iso(_at(year, 2, february_ends))
    assert await balance(gql) == 100

    # when: late on the day before February's last nothing is due; on the last day it is
    await advance_to(services, _at(year, 2, february_ends - 1, 23))
    assert len(await autopay_payments(gql)) == 1
    await advance_to(services, _at(year, 2, february_ends, 1))
    await advance_to(services, _at(year, 2, february_ends, 22))

    # then: charged once for February, next on March 31st
    february = await autopay(gql)
    assert february["nextChargeAt"] == _iso(_at(year, 3, 31))
    by_admin = await gql.data(AUTOPAY, {"userId": "alice"}, headers=as_admin())
    assert by_admin["autopay"]["id"] == february["id"]
    assert error_codes(await gql(AUTOPAY, {"userId": "alice"}, headers=as_user("bob"))) == [
        "FORBIDDEN"
    ]
    assert [p["status"] for p in await autopay_payments(gql)] == ["SUCCEEDED", "SUCCEEDED"]
    assert await balance(gql) == 200
    intents = sandbox.objects("payment_intent")
    assert sorted(i["metadata"]["payments_period"] for i in intents) == [
        f"{year}-01",
        f"{year}-02",
    ]
    assert all(i["customer"] and i["status"] == "succeeded" for i in intents)
    assert all(sandbox.state.notes[i["id"]]["off_session"] for i in intents)


async def test_threshold_top_up_right_after_consumption_takes_the_balance_below(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given: a card saved with 3-D Secure, which Stripe then charges off session
    quiet_day(sandbox)
    await save_card(gql, http, services, card="4000002500003155")
    created = await set_autopay(gql, packageId="basic", belowBalance=50, idempotencyKey="t-1")
    await settle(services)
    assert created["autopay"]["status"] == "ACTIVE"
    assert await balance(gql) == 100  # the balance started below the threshold

    # when
    spent = await consume(gql, "alice", 60, key="use-1")
    await settle(services)

    # then
    assert spent["balance"] == 40
    assert await balance(gql) == 140
    assert [p["status"] for p in await autopay_payments(gql)] == ["SUCCEEDED", "SUCCEEDED"]

    # when: more consumption the same day; at most PAYMENTS_AUTOPAY_MAX_PER_DAY (3) top-ups
    for n in range(3):
        await consume(gql, "alice", 100, key=f"more-{n}")
        await settle(services)

    # then
    assert len(await autopay_payments(gql)) == 3
    assert await balance(gql) == 40
    # a sweep the same day adds nothing; the next day tops up again
    await services.autopay.sweep()
    assert len(await autopay_payments(gql)) == 3
    await advance_to(services, sandbox_now(services.sandbox) + DAY)  # type: ignore[arg-type]
    assert len(await autopay_payments(gql)) == 4
    assert await balance(gql) == 140


async def test_a_decline_is_retried_on_schedule_then_paused_then_resumed_by_a_new_card(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given: a card that saves fine and then declines every charge
    await save_card(gql, http, services, card="4000000000000341")
    start = sandbox_now(sandbox)
    await set_autopay(gql, packageId="basic", belowBalance=50, idempotencyKey="d-1")
    await settle(services)

    # then: the first charge was declined; retry a day later
    state = await autopay(gql)
    assert (state["status"], state["failureCount"]) == ("PAST_DUE", 1)
    assert (state["lastPayment"]["status"], state["lastPayment"]["failureCode"]) == (
        "FAILED",
        "card_declined",
    )
    assert state["lastPayment"]["declineCode"] == "generic_decline"
    retry_at = dt.datetime.fromisoformat(state["retryAt"])
    assert abs(retry_at - (start + DAY)) < dt.timedelta(seconds=30)

    # when: days 1, 3 and 5 after the first decline come
    seen = []
    for days in (1, 3, 5):
        await advance_to(services, start + days * DAY + dt.timedelta(minutes=1))
        current = await autopay(gql)
        seen.append((current["status"], current["failureCount"], current["pausedReason"]))

    # then
    assert seen == [
        ("PAST_DUE", 2, None),
        ("PAST_DUE", 3, None),
        ("PAUSED", 4, "PAYMENT_FAILED"),
    ]
    assert [p["status"] for p in await autopay_payments(gql)] == ["FAILED"] * 4
    await advance_to(services, start + 20 * DAY)
    assert len(await autopay_payments(gql)) == 4
    assert await balance(gql) == 0

    # when: the customer saves another card and makes it the default
    fresh = await save_card(gql, http, services, card="4242424242424242")
    made = await gql.data(
        SET_DEFAULT, {"input": {"paymentMethodId": fresh}}, headers=as_user("alice")
    )
    assert made["setDefaultPaymentMethod"]["paymentMethod"]["isDefault"] is True
    await settle(services)

    # then: the unpaid top-up is charged to it at once
    resumed = await autopay(gql)
    assert (resumed["status"], resumed["failureCount"], resumed["pausedReason"]) == (
        "ACTIVE",
        0,
        None,
    )
    assert resumed["paymentMethod"]["id"] == fresh
    assert resumed["lastPayment"]["status"] == "SUCCEEDED"
    assert await balance(gql) == 100


async def test_authentication_required_pauses_until_the_customer_completes_it(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given: a card whose bank always wants the customer present
    await save_card(gql, http, services, card="4000002760003184")

    # when
    await set_autopay(gql, packageId="basic", belowBalance=50, idempotencyKey="a-1")
    await settle(services)

    # then
    paused = await autopay(gql)
    assert (paused["status"], paused["pausedReason"]) == ("PAUSED", "AUTHENTICATION_REQUIRED")
    payment = paused["lastPayment"]
    assert payment["status"] == "REQUIRES_ACTION"
    assert payment["failureCode"] == "authentication_required"
    assert payment["nextActionUrl"].startswith("http://payments.test/_sandbox/authenticate/pi_")
    assert payment["clientSecret"].startswith(payment["stripePaymentIntentId"])
    await services.autopay.sweep()  # nothing more while paused
    assert len(await autopay_payments(gql)) == 1

    # when: the customer finishes it on the page they were sent to
    path = payment["nextActionUrl"].removeprefix("http://payments.test")
    answer = await http.post(f"{path}/complete")
    await settle(services)

    # then
    assert answer.status_code == 303
    done = await autopay(gql)
    assert (done["status"], done["pausedReason"]) == ("ACTIVE", None)
    assert done["lastPayment"]["status"] == "SUCCEEDED"
    assert done["lastPayment"]["nextActionUrl"] is None
    assert await balance(gql) == 100
    assert len(await autopay_payments(gql)) == 1


async def test_removing_cards_falls_back_to_the_default_then_pauses(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given: the default card, and another card the autopay charges
    year = quiet_day(sandbox).year + 1
    default = await save_card(gql, http, services, card="4242424242424242")
    other = await save_card(gql, http, services, card="5555555555554444")
    result = await set_autopay(
        gql, packageId="basic", dayOfMonth=15, paymentMethodId=other, idempotencyKey="r-1"
    )
    assert result["autopay"]["paymentMethod"]["id"] == other

    # when: that card is removed
    await gql.data(REMOVE, {"input": {"paymentMethodId": other}}, headers=as_user("alice"))
    await settle(services)

    # then: the default card is charged
    assert (await autopay(gql))["paymentMethod"]["id"] == default
    await advance_to(services, _at(year, 1, 15, 1))
    charged = sandbox.objects("payment_intent")[-1]
    assert charged["payment_method"] == default
    assert await balance(gql) == 100

    # when: the last card is removed
    await gql.data(REMOVE, {"input": {"paymentMethodId": default}}, headers=as_user("alice"))
    await settle(services)

    # then: paused; February 15th charges nothing
    paused = await autopay(gql)
    assert (paused["status"], paused["pausedReason"], paused["paymentMethod"]) == (
        "PAUSED",
        "NO_PAYMENT_METHOD",
        None,
    )
    await advance_to(services, _at(year, 2, 15, 1))
    assert len(await autopay_payments(gql)) == 1

    # when: a new card is saved
    await save_card(gql, http, services, card="4000056655665556")

    # then: autopay is active again; the missed February top-up is charged at once, once
    assert (await autopay(gql))["status"] == "ACTIVE"
    assert await balance(gql) == 200
    await advance_to(services, _at(year, 3, 15, 1))
    assert await balance(gql) == 300
    assert len(await autopay_payments(gql)) == 3


async def test_disabling_and_re_enabling(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given
    year = quiet_day(sandbox).year + 1
    await save_card(gql, http, services)
    await set_autopay(gql, packageId="basic", dayOfMonth=10, idempotencyKey="e-1")

    # when: disabled over January's charge day (re-enabled the day after: on the day itself,
    # the day counts and it would be charged at once)
    off = await set_autopay(gql, enabled=False, idempotencyKey="e-2")
    await advance_to(services, _at(year, 1, 11, 1))

    # then
    assert (off["autopay"]["enabled"], off["autopay"]["status"]) == (False, "DISABLED")
    assert await autopay_payments(gql) == []

    # when
    on = await set_autopay(gql, credits=300, dayOfMonth=10, idempotencyKey="e-3")
    await advance_to(services, _at(year, 2, 10, 1))

    # then
    assert (on["autopay"]["status"], on["autopay"]["amount"]["amount"]) == ("ACTIVE", 3000)
    assert await balance(gql) == 300
    # the same key and input answer the same; another input under it is refused
    assert (await set_autopay(gql, credits=300, dayOfMonth=10, idempotencyKey="e-3"))[
        "__typename"
    ] == "AutopaySuccess"
    reused = await set_autopay(gql, credits=400, dayOfMonth=10, idempotencyKey="e-3")
    assert reused["__typename"] == "IdempotencyError"


async def test_a_sweep_waits_for_a_check_holding_the_autopay(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given: an autopay due on January 10th, its row held by another check (a nudge that read
    # the time before the clock moved, or another process's sweep)
    year = quiet_day(sandbox).year + 1
    await save_card(gql, http, services)
    made = await set_autopay(gql, packageId="basic", dayOfMonth=10, idempotencyKey="w-1")
    await settle(services)
    async with services.db.transaction() as holder:
        await autopay_repository.claim_row(holder, made["autopay"]["id"])
        # when: the clock moves past the charge day while the row is held
        moving = asyncio.create_task(advance_to(services, _at(year, 1, 10, 1)))
        await asyncio.sleep(0.3)
        # then: the sweep waits for the row instead of skipping it
        assert not moving.done()
    await moving
    assert await balance(gql) == 100
    assert len(await autopay_payments(gql)) == 1


AUDIT = "{ auditLog { edges { node { action actorId actorRole input result } } } }"


async def test_an_admin_sets_a_users_autopay_and_it_is_audited(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services
) -> None:
    # given
    await save_card(gql, http, services)
    variables = {"input": {"userId": "alice", "packageId": "basic", "belowBalance": 10,
                           "idempotencyKey": "admin-1"}}  # fmt: skip

    # when: another user tries, then an admin does it for alice
    refused = await gql(SET_AUTOPAY, variables, headers=as_user("mallory"))
    done = (await gql.data(SET_AUTOPAY, variables, headers=as_admin()))["autopay"]

    # then
    assert error_codes(refused) == ["FORBIDDEN"]
    assert done["__typename"] == "AutopaySuccess"
    assert (await autopay(gql))["status"] == "ACTIVE"
    log = (await gql.data(AUDIT, headers=as_admin()))["auditLog"]["edges"]
    records = [edge["node"] for edge in log if edge["node"]["action"] == "autopay"]
    assert len(records) == 1
    assert records[0]["actorRole"] == "admin"
    assert json.loads(records[0]["input"])["user_id"] == "alice"
    # and: a user's own change is not an admin action
    await set_autopay(gql, packageId="basic", belowBalance=20, idempotencyKey="own")
    log = (await gql.data(AUDIT, headers=as_admin()))["auditLog"]["edges"]
    assert [edge["node"]["action"] for edge in log].count("autopay") == 1


async def test_the_sandbox_control_api_moves_the_clock_and_runs_due_autopays(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given
    quiet_day(sandbox)
    await save_card(gql, http, services)
    await set_autopay(gql, packageId="basic", dayOfMonth=1, idempotencyKey="c-1")
    state = await autopay(gql)
    due = dt.datetime.fromisoformat(state["nextChargeAt"])

    # when
    seconds = int((due - sandbox_now(sandbox)).total_seconds()) + 3600
    answer = await http.post("/_sandbox/control/clock/advance", json={"seconds": seconds})
    await settle(services)

    # then
    assert answer.status_code == 200
    assert [p["status"] for p in await autopay_payments(gql)] == ["SUCCEEDED"]
    stripe_intents = await sandbox_client(sandbox).v1.payment_intents.list_async()
    assert stripe_intents.data[0].metadata["payments_autopay_id"] == state["id"]


async def test_a_charge_lost_to_a_stripe_outage_is_sent_again_with_the_same_key(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given: Stripe fails the charge
    await save_card(gql, http, services)
    sandbox.faults.fail_api(status=500, count=1, path_prefix="/v1/payment_intents")
    await set_autopay(gql, packageId="basic", belowBalance=50, idempotencyKey="o-1")
    await settle(services)
    [pending] = await autopay_payments(gql)
    assert pending["status"] == "PENDING"
    await services.autopay.sweep()  # in flight: no second top-up
    assert len(await autopay_payments(gql)) == 1

    # when: the claimed charge is old enough, a sweep sends it again
    async with services.db.transaction() as session:
        stored = await payments_repository.get(session, pending["id"], lock=True)
        assert stored is not None
        stored.created_at = stored.created_at - dt.timedelta(minutes=5)
    await services.autopay.sweep()
    await settle(services)

    # then
    assert [p["status"] for p in await autopay_payments(gql)] == ["SUCCEEDED"]
    assert len(sandbox.objects("payment_intent")) == 1
    assert await balance(gql) == 100


async def test_another_card_replaces_a_charge_waiting_for_authentication(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, sandbox: Sandbox
) -> None:
    # given: a top-up waiting for the customer to authenticate
    await save_card(gql, http, services, card="4000002760003184")
    await set_autopay(gql, packageId="basic", belowBalance=50, idempotencyKey="s-1")
    await settle(services)
    waiting = (await autopay(gql))["lastPayment"]
    assert waiting["status"] == "REQUIRES_ACTION"

    # when: the customer saves another card and makes it the default instead
    fresh = await save_card(gql, http, services, card="4242424242424242")
    await gql.data(SET_DEFAULT, {"input": {"paymentMethodId": fresh}}, headers=as_user("alice"))
    await settle(services)

    # then: the waiting charge is canceled and the new card is charged, once
    statuses = {p["id"]: p["status"] for p in await autopay_payments(gql)}
    assert statuses[waiting["id"]] == "CANCELED"
    assert sorted(statuses.values()) == ["CANCELED", "SUCCEEDED"]
    stripe_side = await sandbox_client(sandbox).v1.payment_intents.retrieve_async(
        waiting["stripePaymentIntentId"]
    )
    assert stripe_side.status == "canceled"
    assert (await autopay(gql))["status"] == "ACTIVE"
    assert await balance(gql) == 100


async def test_the_server_sweeps_every_scheduler_interval(settings: Settings) -> None:
    # given: a server process whose scheduler sweeps every 0.05 s, and a monthly autopay
    app = create_app(settings.model_copy(update={"scheduler_interval": 0.05}))
    services: Services = app.state.services
    assert services.sandbox is not None
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://payments.test") as http,
    ):
        gql = GraphQLClient(http)
        due = _at(quiet_day(services.sandbox).year + 1, 1, 5, 1)
        await save_card(gql, http, services)
        await set_autopay(gql, packageId="basic", dayOfMonth=5, idempotencyKey="i-1")

        # when: time passes with nobody telling the server (the bare clock moves)
        services.sandbox.clock.advance(int(due.timestamp()) - services.sandbox.clock.now())
        for _ in range(200):
            if await balance(gql) == 100:
                break
            await asyncio.sleep(0.05)
        await settle(services)

        # then
        assert await balance(gql) == 100
        assert [p["status"] for p in await autopay_payments(gql)] == ["SUCCEEDED"]
