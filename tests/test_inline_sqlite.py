"""The SQLite writer runs on the event loop's thread; waiting for another process's write lock
must not stall the loop, and writes must land once."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.applications import Starlette

from graphql_payments import inline_sqlite
from graphql_payments.db import Database, sqlite_path
from graphql_payments.idempotency import IdempotencyKey
from graphql_payments.maintenance import CHECKPOINT_INTERVAL
from graphql_payments.services import Services

HOLD_SECONDS = 1.5
HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
"""


@pytest.fixture
def sqlite_file(tmp_path: Path, sqlite_template: Path) -> Path:
    path = tmp_path / "payments.db"
    shutil.copy(sqlite_template, path)
    return path


@pytest.fixture
def database_url(sqlite_file: Path) -> str:
    return f"sqlite+aiosqlite:///{sqlite_file}"


async def test_a_write_waits_for_another_process_without_stalling_the_loop(
    sqlite_file: Path, database_url: str
) -> None:
    db = Database(database_url)
    async with db.engine.connect() as connection:  # the writer runs on the loop's thread
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, inline_sqlite.Connection)
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, str(sqlite_file), str(HOLD_SECONDS),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert (await holder.stdout.readline()).strip() == b"locked"
        ticks: list[float] = []

        async def tick() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        started = time.monotonic()
        async with db.transaction() as session:
            session.add(IdempotencyKey(scope="s", user_id="u", key="k", request_hash="h",
                                       resource_id="r"))  # fmt: skip
        waited = time.monotonic() - started
        ticker.cancel()
        # then: it waited for the other process's lock, and the loop kept running meanwhile
        assert waited >= HOLD_SECONDS * 0.5
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        assert len(ticks) >= 10
        assert max(gaps) < HOLD_SECONDS * 0.3  # blocked, the loop would stop for the wait
        async with db.reading() as session:
            assert await session.get(IdempotencyKey, ("s", "u", "k")) is not None
    finally:
        await holder.wait()
        await db.dispose()


async def test_a_lock_held_past_the_timeout_fails_the_write(
    sqlite_file: Path, database_url: str
) -> None:
    db = Database(database_url, lock_timeout=0.2)
    holder = sqlite3.connect(sqlite_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Exception, match="database is locked"):
            async with db.transaction() as session:
                session.add(IdempotencyKey(scope="s", user_id="u", key="late", request_hash="h",
                                           resource_id="r"))  # fmt: skip
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await db.dispose()
    later = Database(database_url)
    async with later.reading() as session:
        assert await session.get(IdempotencyKey, ("s", "u", "late")) is None
    await later.dispose()


def _keys_in_file_alone(sqlite_file: Path, copy: Path) -> int:
    """How many idempotency keys the database file holds without its write-ahead log."""
    shutil.copy(sqlite_file, copy)
    connection = sqlite3.connect(copy)
    try:
        return int(connection.execute("SELECT count(*) FROM idempotency_keys").fetchone()[0])
    finally:
        connection.close()


async def test_the_writer_leaves_checkpoints_to_the_background(
    sqlite_file: Path, database_url: str, tmp_path: Path
) -> None:
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            # the writer on the loop's thread never copies the log back itself
            pragma = await session.execute(text("PRAGMA wal_autocheckpoint"))
            assert pragma.scalar_one() == 0
            for n in range(3):
                session.add(IdempotencyKey(scope="s", user_id="u", key=f"k{n}",
                                           request_hash="h", resource_id="r"))  # fmt: skip
        before = _keys_in_file_alone(sqlite_file, tmp_path / "before.db")
        await db.checkpoint()
        after = _keys_in_file_alone(sqlite_file, tmp_path / "after.db")
    finally:
        await db.dispose()
    # then: the committed keys were only in the log until the checkpoint copied them
    assert (before, after) == (0, 3)


async def test_an_in_memory_database_has_no_checkpoint() -> None:
    db = Database("sqlite+aiosqlite:///:memory:")
    try:
        await db.checkpoint()
        assert db._checkpointer is None
    finally:
        await db.dispose()


async def test_a_running_server_checkpoints_in_the_background(
    app: Starlette, services: Services, database_url: str, tmp_path: Path
) -> None:
    path = sqlite_path(database_url)
    assert path is not None
    async with app.router.lifespan_context(app):
        async with services.db.transaction() as session:
            session.add(IdempotencyKey(scope="s", user_id="u", key="bg", request_hash="h",
                                       resource_id="r"))  # fmt: skip
        deadline = time.monotonic() + 5 * CHECKPOINT_INTERVAL
        while _keys_in_file_alone(path, tmp_path / "copy.db") == 0:
            assert time.monotonic() < deadline, "no checkpoint from the background work"
            await asyncio.sleep(0.1)
