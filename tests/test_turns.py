"""Turns: at most `size` requests run at once; a turn is given back while waiting on the
network, except inside a database transaction; a request handed its turn lets ready work
run first."""

from __future__ import annotations

import asyncio

import pytest

from graphql_payments import turns
from graphql_payments.turns import Turns


async def test_at_most_size_run_and_waiting_gives_the_turn_back() -> None:
    lane = Turns(1)
    running = 0
    most = 0
    waiting_at_once = 0
    most_waiting = 0

    async def request() -> None:
        nonlocal running, most, waiting_at_once, most_waiting
        async with lane.turn():
            running += 1
            most = max(most, running)
            await asyncio.sleep(0)  # work that yields without giving the turn back
            running -= 1
            async with turns.waiting():  # a call to Stripe
                waiting_at_once += 1
                most_waiting = max(most_waiting, waiting_at_once)
                await asyncio.sleep(0.2)
                waiting_at_once -= 1
            running += 1
            most = max(most, running)
            await asyncio.sleep(0)
            running -= 1

    await asyncio.gather(*(request() for _ in range(8)))
    assert most == 1  # one at a time on the loop
    assert most_waiting == 8  # all eight calls in flight together


async def test_inside_a_transaction_the_turn_is_kept_while_waiting() -> None:
    lane = Turns(1)
    order: list[str] = []

    async def pinned_request() -> None:
        async with lane.turn():
            with turns.pinned():
                async with turns.waiting():
                    await asyncio.sleep(0.05)
                    order.append("pinned done")

    async def other() -> None:
        await asyncio.sleep(0.01)
        async with lane.turn():
            order.append("other ran")

    await asyncio.gather(pinned_request(), other())
    assert order == ["pinned done", "other ran"]


async def test_a_cancelled_request_frees_its_turn() -> None:
    lane = Turns(1)
    entered = asyncio.Event()

    async def cancelled() -> None:
        async with lane.turn(), turns.waiting():
            entered.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(cancelled())
    await entered.wait()
    async with lane.turn():  # taken while the other waits on the network
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    async with asyncio.timeout(1):  # and still free after both are done
        async with lane.turn():
            pass
    async with asyncio.timeout(1), lane.turn(), lane.turn():  # re-entrant
        pass


async def test_a_task_started_by_a_request_does_not_give_its_turn_away() -> None:
    lane = Turns(1)
    others_ran_while_held: list[bool] = []
    holding = False

    async def background() -> None:  # inherits the request's context
        async with turns.waiting():
            await asyncio.sleep(0.02)

    async def request() -> None:
        nonlocal holding
        async with lane.turn():
            holding = True
            task = asyncio.create_task(background())
            await asyncio.sleep(0.05)
            await task
            holding = False

    async def other() -> None:
        await asyncio.sleep(0.01)
        async with lane.turn():
            others_ran_while_held.append(holding)

    async with asyncio.timeout(2):
        await asyncio.gather(request(), other())
        async with lane.turn():  # no turn was lost either
            pass
    assert others_ran_while_held == [False]


async def test_a_request_handed_its_turn_lets_what_is_ready_run_first() -> None:
    lane = Turns(1)
    order: list[str] = []

    async def mutation() -> None:
        async with lane.turn():
            order.append("mutation")

    async def health() -> None:
        order.append("health")

    async with lane.turn():  # a mutation holds the turn; another waits for it
        waiting = asyncio.create_task(mutation())
        await asyncio.sleep(0)
    # when: the turn passes to the waiting mutation just as a probe comes in
    probe = asyncio.create_task(health())
    await asyncio.gather(waiting, probe)
    # then: the probe did not wait for the mutation's work
    assert order == ["health", "mutation"]
