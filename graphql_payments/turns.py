"""Turns on the event loop: at most a few requests run their own work at once.

One process serves every request on one thread. When a burst of mutations arrives together
(64 checkouts at once), each runs its CPU work (GraphQL, its transactions, building the Stripe
request) until it first waits on the network, and everything else, `/health` included, waits
behind all of them. A request that takes a turn (`Turns.turn`) runs only while it holds one of
`size` turns, and gives it back while it waits on Stripe (`waiting`), so a burst's calls to
Stripe still overlap, while the rest of the server waits behind at most `size` requests.

A request takes one turn at most, and inside a database transaction (`pinned`) it keeps its
turn even while it waits on Stripe: another request holding a turn could otherwise wait for
that transaction's locks while this one waits for a turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar


class _Held:
    """A request's turn: whether it holds it now, and the task it belongs to (tasks a request
    starts see its context too, but its turn is not theirs to give back)."""

    __slots__ = ("held", "owner", "semaphore")

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self.semaphore = semaphore
        self.held = False
        self.owner = asyncio.current_task()


_current: ContextVar[_Held | None] = ContextVar("payments_turn", default=None)
_pinned: ContextVar[bool] = ContextVar("payments_turn_pinned", default=False)


class Turns:
    def __init__(self, size: int) -> None:
        self.size = size
        self._semaphore = asyncio.Semaphore(size)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Run the block holding a turn (a block already holding one keeps it)."""
        current = _current.get()
        if current is not None and current.owner is asyncio.current_task():
            yield
            return
        held = _Held(self._semaphore)
        await self._semaphore.acquire()
        held.held = True
        # Handed the turn, let what is ready run first (a `/health` probe, a query): a queue
        # of mutations passing the turn from one to the next otherwise keeps them waiting
        # until the whole queue has had its turn.
        await asyncio.sleep(0)
        token = _current.set(held)
        try:
            yield
        finally:
            _current.reset(token)
            if held.held:
                self._semaphore.release()


@asynccontextmanager
async def waiting() -> AsyncIterator[None]:
    """Give this request's turn back while the block waits (on the network), and take one
    again after it (nothing when the request holds no turn)."""
    held = _current.get()
    if held is None or not held.held or held.owner is not asyncio.current_task() or _pinned.get():
        yield
        return
    held.held = False
    held.semaphore.release()
    try:
        yield
    except asyncio.CancelledError:
        raise  # the request is ending: it takes no turn again
    except BaseException:
        await held.semaphore.acquire()
        held.held = True
        raise
    await held.semaphore.acquire()
    held.held = True


@contextmanager
def pinned() -> Iterator[None]:
    """Within the block (a database transaction), a request keeps its turn while it waits."""
    token = _pinned.set(True)
    try:
        yield
    finally:
        _pinned.reset(token)
