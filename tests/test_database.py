"""Migrations and data upkeep: the migrated schema matches the models on every backend,
idempotency keys expire, and write statements are built once per dialect."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from typing import Any, cast

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from graphql_payments import idempotency
from graphql_payments.db import Database, per_dialect, sqlite_path, utcnow
from graphql_payments.errors import IdempotencyKeyReused
from graphql_payments.idempotency import IdempotencyKey
from graphql_payments.idempotency import repository as idempotency_keys
from graphql_payments.ledger import repository as ledger
from graphql_payments.ledger.models import EntryReason
from graphql_payments.maintenance import purge
from graphql_payments.migrations import current_revision, head_revision
from graphql_payments.models import metadata
from graphql_payments.payments import repository as payments
from graphql_payments.payments.models import PaymentStatus
from graphql_payments.services import Services
from graphql_payments.webhooks import repository as webhooks
from graphql_payments.webhooks.models import EventStatus
from tests.factories import payment_rows


def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    async def differences() -> list[object]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                    )
                )
        finally:
            await engine.dispose()

    assert asyncio.run(differences()) == []
    assert asyncio.run(current_revision(database_url)) == head_revision()


async def test_idempotency_keys_expire_after_their_ttl(services: Services) -> None:
    # given: one key past its time, one fresh
    old = utcnow() - idempotency.KEY_TTL - dt.timedelta(minutes=1)
    async with services.db.transaction() as session:
        session.add(IdempotencyKey(scope="s", user_id="u", key="old", request_hash="h",
                                   resource_id="r", created_at=old))  # fmt: skip
        session.add(IdempotencyKey(scope="s", user_id="u", key="new", request_hash="h",
                                   resource_id="r"))  # fmt: skip
    # when
    purged = await purge(services)
    # then
    assert purged == 1
    async with services.db.reading() as session:
        assert await session.get(IdempotencyKey, ("s", "u", "new")) is not None


async def test_a_new_idempotency_key_is_claimed_in_one_statement() -> None:
    # given: a database whose statements all go through SQLAlchemy (in memory: no inline
    # writer), those on idempotency keys counted
    db = Database("sqlite+aiosqlite:///:memory:")
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    seen: list[str] = []
    event.listen(
        db.engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cursor, sql, *_: seen.append(sql.split()[0]) if "idempotency" in sql else 0,
    )

    async def claim(new_id: str, digest: str = "h") -> tuple[idempotency.Claim, list[str]]:
        seen.clear()
        keyed = idempotency.Request("checkout", "alice", "key-1", digest)
        async with db.transaction() as session:
            return await idempotency.get_or_claim(session, keyed, new_id=new_id), list(seen)

    def purge_after_the_claim_finds_it(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        if sql.startswith("INSERT INTO idempotency_keys") and not cursor.rowcount:
            conn.connection.cursor().execute("DELETE FROM idempotency_keys")  # its own cursor

    try:
        # when
        first, first_statements = await claim("pay_1")
        retry, retry_statements = await claim("pay_2")
        with pytest.raises(IdempotencyKeyReused):
            await claim("pay_3", digest="other input")
        # and: the key is purged between the claim that found it and its read
        event.listen(db.engine.sync_engine, "after_cursor_execute", purge_after_the_claim_finds_it)
        purged, purged_statements = await claim("pay_4")
    finally:
        await db.dispose()
    # then: a new key is one INSERT; a stored one, the INSERT that finds it and its read; a
    # key gone by the time it is read is claimed again
    assert (first, first_statements) == (idempotency.Claim("pay_1", created=True), ["INSERT"])
    assert retry == idempotency.Claim("pay_1", created=False)
    assert retry_statements == ["INSERT", "SELECT"]
    assert purged == idempotency.Claim("pay_4", created=True)
    assert purged_statements == ["INSERT", "SELECT", "INSERT"]


def test_a_write_statement_is_built_once_per_dialect() -> None:
    built: list[object] = []

    @per_dialect
    def claim(insert: Any) -> Any:
        built.append(insert)
        return insert(IdempotencyKey).on_conflict_do_nothing(
            index_elements=["scope", "user_id", "key"]
        )

    on_sqlite = Session(bind=create_engine("sqlite://"))
    on_postgres = Session(bind=create_async_engine("postgresql+asyncpg://u@h/d").sync_engine)
    # when
    statements = [claim(on_sqlite), claim(on_postgres), claim(on_sqlite), claim(on_postgres)]
    # then: each dialect's INSERT ... ON CONFLICT, built once and reused
    assert built == [sqlite.insert, postgresql.insert]
    assert statements[0] is statements[2]
    assert statements[1] is statements[3]
    assert isinstance(statements[0], sqlite.Insert)
    assert isinstance(statements[1], postgresql.Insert)


async def test_work_queued_together_commits_once_and_a_bad_unit_fails_alone(
    services: Services,
) -> None:
    # given: idempotency keys to write (a key is unique)
    db = services.db
    commits = []
    event.listen(db.engine.sync_engine, "commit", lambda _connection: commits.append(1))

    def key(name: str) -> Any:
        async def write(session: AsyncSession) -> str:
            session.add(
                IdempotencyKey(scope="s", user_id="u", key=name, request_hash="h",
                               resource_id=name, created_at=utcnow())
            )  # fmt: skip
            await session.flush()
            return name

        return write

    # when: three at once
    together = await asyncio.gather(*(db.together(key(name)) for name in ("a", "b", "c")))
    committed = len(commits)
    # and: two at once, one of which is written already
    results = await asyncio.gather(
        db.together(key("a")), db.together(key("d")), return_exceptions=True
    )

    # then: one commit for the three; the batch with the duplicate rolled back, then each of
    # its units ran alone: the duplicate failed, alone
    assert together == ["a", "b", "c"]
    assert committed == 1
    assert isinstance(results[0], IntegrityError)
    assert results[1] == "d"
    assert len(commits) == 2
    async with db.reading() as session:
        stored = await session.scalars(select(IdempotencyKey.key).order_by(IdempotencyKey.key))
        assert list(stored) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # SQLite's inline writer
async def test_the_inline_writer_runs_prepared_statements_with_sqlalchemy_s_values_and_errors(
    services: Services,
) -> None:
    # given: statements SQLAlchemy runs, counted
    through_sqlalchemy: list[str] = []
    event.listen(
        services.db.engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cursor, sql, *_: through_sqlalchemy.append(sql),
    )
    now = utcnow()
    stored: dict[str, Any] = {
        "type": "checkout.session.completed",
        "object_id": "cs_1",
        "livemode": True,
        "payload": '{"a": "\\u00e9"}',
        "stripe_created_at": now - dt.timedelta(seconds=5),
        "now": now,
        "lease": dt.timedelta(seconds=60),
    }
    # when: the same writes twice in a transaction
    async with services.db.transaction() as session:
        for event_id in ("evt_first", "evt_second"):
            assert await webhooks.store(session, event_id=event_id, **stored)
            await webhooks.finish(
                session,
                event_id,
                status=EventStatus.PENDING,
                now=now,
                error="é",
                next_attempt_at=now,
            )
        statements = list(through_sqlalchemy)
        # and: a write that breaks a constraint (an entry for a payment that does not exist)
        with pytest.raises(IntegrityError):
            await ledger.add_entry(
                session, user_id="u", delta=1, reason=EntryReason.PURCHASE, payment_id="pay_none"
            )
    # then: only the first statement went through SQLAlchemy (it began the transaction); the
    # others ran prepared and wrote the same values, and the broken constraint raised
    # SQLAlchemy's error
    assert [sql.split()[0] for sql in statements] == ["BEGIN", "INSERT"]  # the first store
    path = sqlite_path(services.db.url)
    assert path is not None
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT * FROM webhook_events ORDER BY id").fetchall()
    assert [row[0] for row in rows] == ["evt_first", "evt_second"]
    assert rows[0][1:] == rows[1][1:]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # SQLite's hot reads
async def test_hot_reads_run_prepared_and_read_what_sqlalchemy_reads(services: Services) -> None:
    # given
    await payment_rows(services, 3)
    where = payments.HistoryFilter(user_id="alice")
    assert services.db.inline_engine is not None
    through_sqlalchemy: list[str] = []
    event.listen(
        services.db.inline_engine,
        "before_cursor_execute",
        lambda _c, _cursor, sql, *_: through_sqlalchemy.append(sql),
    )
    # when
    async with services.db.read() as reader:
        page, more = await payments.history(reader, where, first=2, after=None)
        total = await payments.count(reader, where)
    async with services.db.reading() as session:  # SQLAlchemy's way
        expected, _ = await payments.history(session, where, first=2, after=None)
    # then
    assert through_sqlalchemy == []
    assert (len(page), more, total) == (2, True, 3)
    assert [tuple(cast(Any, row)) for row in page] == [tuple(cast(Any, row)) for row in expected]
    assert page[0].created_at.tzinfo is dt.UTC
    assert page[0].status is PaymentStatus.SUCCEEDED
    # and: a read that fails prepared is run again through SQLAlchemy, which raises its error
    missing = Table("missing", MetaData(), Column("id", Integer))
    async with services.db.read() as reader:
        with pytest.raises(OperationalError, match="no such table"):
            await reader.execute(select(missing.c.id))
    assert through_sqlalchemy == ["BEGIN", "SELECT missing.id \nFROM missing"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # SQLite's inline writer
async def test_a_session_whose_transaction_ended_never_writes_in_another_transaction(
    services: Services,
) -> None:
    # given: a session that wrote prepared, then committed (its connection went back)
    db = services.db

    def claim(session: AsyncSession, key: str) -> Any:
        return idempotency_keys.insert(
            session, scope="s", owner="u", key=key, digest="h", resource_id=key
        )

    first = db.sessionmaker()
    await claim(first, "a")
    await claim(first, "b")
    await first.commit()
    # when: another transaction holds the one write connection, and the first session writes
    async with db.transaction() as second:
        await claim(second, "c")
        late = asyncio.create_task(claim(first, "d"))
        await asyncio.sleep(0.05)
        # then: the first session waits for a connection of its own
        assert not late.done()
    await late
    await first.rollback()
    await first.close()
    async with db.reading() as session:
        keys = await session.scalars(select(IdempotencyKey.key).order_by(IdempotencyKey.key))
        assert list(keys) == ["a", "b", "c"]
