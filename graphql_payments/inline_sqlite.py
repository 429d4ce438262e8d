"""The SQLite writer on the event loop's own thread: aiosqlite's interface, no thread.

aiosqlite runs every statement on a thread of its own and hands the result back to the loop:
a round trip of tens of microseconds per statement, several per write transaction, and the
loop's thread and aiosqlite's take turns on the GIL all the while. A local SQLite file in WAL
mode with `synchronous=NORMAL` commits without an fsync, so the statements themselves take
microseconds: running them right where they are awaited is faster than handing them off.

`connect` opens a `sqlite3` connection behind the methods SQLAlchemy's aiosqlite dialect calls
(`create_async_engine(..., async_creator=...)`), so engines, sessions and the ORM work
unchanged. Waiting for the database lock never blocks the loop: the connection's busy timeout
is 0, and a statement SQLite answers "database is locked" (another process is writing) is
retried after an asynchronous pause, up to `timeout` seconds, as SQLite's own busy handler
would (a statement refused as busy had no effect, so running it again is safe).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

# Pauses between tries while another process holds the lock (seconds), the last one repeated.
BACKOFF = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)


def _locked(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY or (
        "database is locked" in str(error)
    )


class Connection:
    """The part of `aiosqlite.Connection` SQLAlchemy uses, run inline."""

    def __init__(self, connection: sqlite3.Connection, timeout: float) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection  # None once closed
        self.timeout = timeout

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """`call(*args)`, retried while another process holds the database lock."""
        deadline: float | None = None
        tries = 0
        while True:
            try:
                return call(*args)
            except sqlite3.OperationalError as error:
                if not _locked(error):
                    raise
                now = time.monotonic()
                deadline = deadline or now + self.timeout
                if now >= deadline:
                    raise
                await asyncio.sleep(BACKOFF[min(tries, len(BACKOFF) - 1)])
                tries += 1

    @property
    def raw(self) -> sqlite3.Connection:
        """The `sqlite3` connection itself (for statements run synchronously, in place)."""
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> Cursor:
        return Cursor(self, self._conn.cursor())

    async def execute(self, sql: str, parameters: Iterable[Any] = ()) -> Cursor:
        cursor = self.cursor()
        await cursor.execute(sql, parameters)
        return cursor

    async def commit(self) -> None:
        await self.run(self._conn.commit)

    async def rollback(self) -> None:
        await self.run(self._conn.rollback)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


class Cursor:
    """The part of `aiosqlite.Cursor` SQLAlchemy uses, run inline."""

    def __init__(self, connection: Connection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Iterable[Any] = ()) -> Cursor:
        await self._connection.run(self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Cursor:
        await self._connection.run(self._cursor.executemany, sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


def connect(path: str, *, timeout: float) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine`: inline connections to the file `path`."""

    async def creator() -> Connection:
        connection = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        return Connection(connection, timeout)

    return creator
