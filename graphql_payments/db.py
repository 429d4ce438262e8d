"""Database: declarative base, engines and units of work.

SQLite (aiosqlite) is the embedded default and PostgreSQL (asyncpg) the choice at scale. The
naming convention gives constraints the same names on both, so migrations stay portable.

`Database.transaction()` is one unit of work: services and repositories only `flush()`.

Pools. SQLite allows one writer at a time, so a process keeps exactly one write connection:
writers queue for it in the pool (first come, first served, no lock polling) and each write
transaction starts with `BEGIN IMMEDIATE`, so writers of other processes queue on the database
lock instead of failing half way. Reads go through a pool of reader connections that start
plain deferred transactions and, with WAL, never block the writer or each other. Connections
are opened once (PRAGMAs applied then) and reused, never one per request. On PostgreSQL one
pool serves both.

Hot reads that only show rows (`paymentStatus`, `paymentHistory`, `me`, `/health`) use
`Database.read()`: Core statements on a pooled connection, no ORM session or identity map. On
SQLite those run on the event loop's own thread through the standard `sqlite3` driver: a
primary-key or keyset read of a local file takes microseconds, far less than handing it to
aiosqlite's thread and back, and with WAL a reader never waits for a lock. Those connections
are `query_only`, and their statements run prepared: compiled once, executed on `sqlite3`
directly, their rows tuples whose columns are also attributes. The one write connection of a
SQLite file runs on the loop's thread too (`inline_sqlite`: aiosqlite's interface without its
thread), and waits for another process's write lock asynchronously, so that wait never stalls
the event loop. Longer reads through `reading()` stay on aiosqlite's threads. The prebuilt
statements of the write paths (`execute_core`) run prepared on that writer's `sqlite3`
connection once its transaction has begun (`run_prepared`), and small units of work queued at
the same moment commit together (`Database.together`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import datetime as dt
import functools
import socket
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    DateTime,
    Delete,
    Executable,
    Insert,
    MetaData,
    Select,
    Update,
    create_engine,
    event,
    inspect,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Compiled, Connection, CursorResult, Dialect, Engine, Result, make_url
from sqlalchemy.exc import ArgumentError, MultipleResultsFound, NoResultFound
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

from graphql_payments import inline_sqlite, turns

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and read back as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


def _dialect_insert(session: AsyncSession | Session) -> Callable[[type[Base]], Any]:
    """The dialect's INSERT, with ON CONFLICT support (SQLite and PostgreSQL share the API)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def insert_for(session: AsyncSession, model: type[Base]) -> Any:
    """An INSERT with the dialect's ON CONFLICT support."""
    return _dialect_insert(session)(model)


class per_dialect:
    """A statement built once per dialect by `build(insert)`, `insert` being the dialect's
    INSERT with ON CONFLICT support, then executed with parameters on a connection. A statement
    built per call costs its construction and its cache key every time: on a write path run
    for every webhook and checkout, more than the SQL itself."""

    def __init__(self, build: Callable[[Callable[[type[Base]], Any]], Any]) -> None:
        self._build = build
        self._built: dict[str, Any] = {}

    def __call__(self, session: AsyncSession | Session) -> Any:
        name = session.get_bind().dialect.name
        statement = self._built.get(name)
        if statement is None:
            statement = self._built[name] = self._build(_dialect_insert(session))
        return statement


async def execute_core(
    session: AsyncSession, statement: Executable, parameters: Mapping[str, Any]
) -> CursorResult[Any] | Rows:
    """A prebuilt Core statement on the session's connection, in its transaction: none of the
    ORM's statement handling, and no autoflush (flush first when pending ORM changes must come
    before it). On the inline SQLite writer it runs prepared (`run_prepared`)."""
    found = run_prepared(session.info, statement, parameters)
    if found is not None:
        return found
    connection = await session.connection()
    if connection.sync_connection is not None:
        _remember_inline(session.info, connection.sync_connection)
    return await connection.execute(statement, parameters)


def execute_sync(
    session: Session, statement: Executable, parameters: Mapping[str, Any]
) -> CursorResult[Any] | Rows:
    """`execute_core` for synchronous code (inside a flush, or `run_sync`)."""
    found = run_prepared(session.info, statement, parameters)
    if found is not None:
        return found
    connection = session.connection()
    _remember_inline(session.info, connection)
    return connection.execute(statement, parameters)


_PING: Select[Any] = select(literal_column("1").label("ok"))

# `session.info` key: (the `sqlite3` connection, the dialect) of a session on the inline SQLite
# writer, None on any other connection.
INLINE_INFO = "inline_sqlite"
MAX_PREPARED = 1000


class Rows:
    """What callers read of a prepared statement's result (a subset of SQLAlchemy's `Result`):
    rows of plain tuples whose columns are also attributes."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rowcount: int, rows: list[Any]) -> None:
        self.rowcount = rowcount
        self.rows = rows

    def all(self) -> list[Any]:
        return self.rows

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def one_or_none(self) -> Any:
        if len(self.rows) > 1:
            raise MultipleResultsFound
        return self.rows[0] if self.rows else None

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalar_one(self) -> Any:
        if not self.rows:
            raise NoResultFound
        return self.scalar_one_or_none()

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


def _row_type(names: tuple[str, ...]) -> type[tuple[Any, ...]] | None:
    """A tuple type whose columns are also attributes (and `_mapping`, as a Row has); None for
    names that cannot be attributes."""
    try:
        base = collections.namedtuple("PreparedRow", names)  # type: ignore[misc]
    except ValueError:  # a repeated name, or one that is not an identifier
        return None

    class PreparedRow(base):
        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return dict(zip(self._fields, self))  # noqa: B905 (as many names as columns)

    return PreparedRow


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    compiled: Compiled
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    defaults: tuple[tuple[str, Any], ...]
    processors: tuple[tuple[int, Callable[[Any], Any]], ...] = ()
    row_type: type[tuple[Any, ...]] | None = None  # None for a statement returning no rows


_prepared: dict[tuple[Executable, tuple[str, ...]], _Prepared | None] = {}


@event.listens_for(Session, "after_transaction_end")
def _forget_inline(session: Session, transaction: Any) -> None:
    """A session that ended its transaction gives its connection back: the next one may be
    another's, so its next statement finds its connection anew. (A flush's or a savepoint's
    inner transaction keeps it.)"""
    if transaction.parent is None:
        session.info.pop(INLINE_INFO, None)


def _remember_inline(info: dict[Any, Any], connection: Connection) -> None:
    if INLINE_INFO not in info:
        driver = connection.connection.driver_connection
        info[INLINE_INFO] = None
        if isinstance(driver, inline_sqlite.Connection):
            info[INLINE_INFO] = (driver.raw, connection.dialect)


def _prepare(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared | None:
    """The statement compiled once for these parameter names, with what it takes to run it on
    `sqlite3` directly; None when it needs more than that (SQLAlchemy's path runs it)."""
    if not isinstance(statement, Select | Insert | Update | Delete):
        return None  # text, for one: what it returns is not known
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys))
    if (
        compiled.escaped_bind_names
        or compiled.literal_execute_params
        or compiled.post_compile_params
        or any(bind.expanding for bind in compiled.binds.values())
    ):
        return None
    defaults = []
    for columns, kind in (
        (compiled.insert_prefetch, "default"),
        (compiled.update_prefetch, "onupdate"),
    ):
        for column in columns:
            default = getattr(column, kind)
            if default is None or not (default.is_scalar or default.is_callable):
                return None
            defaults.append((column.key, default))
    bind_processors = compiled._bind_processors
    binds = tuple((name, bind_processors.get(name)) for name in compiled.positiontup)
    results = compiled._result_columns
    processors = tuple(
        (n, process)
        for n, entry in enumerate(results)
        if (process := entry.type._cached_result_processor(dialect, None)) is not None
    )
    row_type = _row_type(tuple(entry.keyname for entry in results)) if results else None
    if results and row_type is None:
        return None
    return _Prepared(compiled.string, compiled, binds, tuple(defaults), processors, row_type)


def _run(raw: sqlite3.Connection, prepared: _Prepared, parameters: Mapping[str, Any]) -> Rows:
    given = dict(parameters)
    for key, default in prepared.defaults:
        given[key] = _default(default)
    values: Any = prepared.compiled.construct_params(given)
    row = [
        values[name] if process is None else process(values[name])
        for name, process in prepared.binds
    ]
    cursor = raw.execute(prepared.sql, row)
    make = prepared.row_type
    if make is None:
        return Rows(cursor.rowcount, [])
    found = cursor.fetchall()
    if prepared.processors:
        processed = []
        for fetched in found:
            columns = list(fetched)
            for n, process in prepared.processors:
                columns[n] = process(columns[n])
            processed.append(columns)
        found = processed
    return Rows(cursor.rowcount, [make._make(columns) for columns in found])  # type: ignore[attr-defined]


def _prepared_for(
    statement: Executable, dialect: Dialect, parameters: Mapping[str, Any]
) -> _Prepared | None:
    keys = tuple(sorted(parameters))
    try:
        return _prepared[statement, keys]
    except KeyError:
        if len(_prepared) >= MAX_PREPARED:  # statements built per call: SQLAlchemy caches them
            return None
        prepared = _prepared[statement, keys] = _prepare(statement, dialect, keys)
        return prepared


def run_prepared(
    info: dict[Any, Any], statement: Executable, parameters: Mapping[str, Any]
) -> Rows | None:
    """Run a prebuilt statement on the inline SQLite writer's `sqlite3` connection, compiled
    once per statement and set of parameter names: SQLAlchemy's execution (an execution
    context, a result, a greenlet round trip per statement) costs several times the SQL on a
    write path run for every webhook and checkout. Parameters and returned columns go through
    the same type processing, and parameters get the same column defaults, as on SQLAlchemy's
    path. None when it does not apply: not the inline writer, no transaction begun yet, or a
    statement that needs more (then the caller runs it through SQLAlchemy, which also raises
    its own errors: a SQLite statement that fails changes nothing, so it is simply run again
    there)."""
    inline = info.get(INLINE_INFO)
    if inline is None:
        return None
    raw, dialect = inline
    if not raw.in_transaction:
        return None
    prepared = _prepared_for(statement, dialect, parameters)
    if prepared is None:
        return None
    try:
        return _run(raw, prepared, parameters)
    except sqlite3.Error:
        return None


def _default(default: Any) -> Any:
    """The value of a Python-side column default (a scalar, or a function of no arguments)."""
    return default.arg(None) if default.is_callable else default.arg


@functools.cache
def _columns(model: type[Base]) -> tuple[tuple[str, Any], ...]:
    return tuple((attr.key, attr.columns[0]) for attr in inspect(model).column_attrs)


def new_row(obj: Base) -> dict[str, Any]:
    """A new object's columns as a row for a Core INSERT, with the Python-side column defaults
    a flush would apply filled in, on the object as well."""
    row = {}
    for key, column in _columns(type(obj)):
        value = getattr(obj, key)
        default = column.default
        if value is None and default is not None:
            value = _default(default)
            setattr(obj, key, value)
        row[key] = value
    return row


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def display_url(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable URL)"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        todo += [current.__cause__, current.__context__]
        if isinstance(orig, BaseException):
            todo.append(orig)


def database_problem(exc: BaseException, url: str) -> str | None:
    """What a person should do about `exc`, raised while using the database at `url`, in one
    sentence; None when it is not a known way for a database to be unusable."""
    shown = display_url(url)
    for cause in _causes(exc):
        name = type(cause).__name__
        if isinstance(cause, ModuleNotFoundError) and cause.name in ("asyncpg", "aiosqlite"):
            return (
                f"The {cause.name} driver for {shown} is not installed: "
                "pip install 'graphql-payments[postgres]' (in a checkout: "
                ".venv/bin/pip install -e '.[postgres]')."
            )
        if name == "InvalidCatalogNameError":
            return (
                f"The database of {shown} does not exist: create it (createdb), or fix "
                "PAYMENTS_DATABASE_URL."
            )
        if name in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
            return f"PostgreSQL refused the user or password of {shown}: fix PAYMENTS_DATABASE_URL."
        if name == "OperationalError" and "unable to open database file" in str(cause):
            return (
                f"Cannot open the SQLite file of {shown}: does its folder exist, and may this "
                "user write there? Fix PAYMENTS_DATABASE_URL."
            )
        if isinstance(cause, (ConnectionError, TimeoutError, socket.gaierror)):
            return (
                f"Cannot reach the database at {shown} ({cause}): is it running, and is "
                "PAYMENTS_DATABASE_URL right?"
            )
    return None


SQLITE_READERS = 4  # reader connections kept open per process (more open when busy)
LOCK_TIMEOUT = 30.0  # seconds a SQLite writer waits for another process's write lock
SQLITE_EXTRA_READERS = 12
POSTGRES_POOL_SIZE = 10


def _sqlite_engine(url: str, *, immediate: bool, lock_timeout: float = LOCK_TIMEOUT) -> AsyncEngine:
    # One writer per process; readers pooled. Waiting for the writer may take a while
    # under a burst, so the pool timeout matches SQLite's own busy timeout.
    pool_size, overflow = (1, 0) if immediate else (SQLITE_READERS, SQLITE_EXTRA_READERS)
    pooling: dict[str, Any] = {}
    if ":memory:" not in url:  # an in-memory database lives in one shared connection
        pooling = {"pool_size": pool_size, "max_overflow": overflow, "pool_timeout": 30}
    path = sqlite_path(url)
    inline = immediate and path is not None
    if inline:
        # The writer runs on the loop's thread (see `inline_sqlite`); its busy waits are
        # asynchronous, so its own busy timeout is 0.
        engine = create_async_engine(
            url, async_creator=inline_sqlite.connect(str(path), timeout=lock_timeout), **pooling
        )
        busy_timeout = 0
    else:
        engine = create_async_engine(
            url, connect_args={"timeout": lock_timeout, "isolation_level": None}, **pooling
        )
        busy_timeout = int(lock_timeout * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if inline:
            # A commit that fills the log past 1,000 pages would copy it back into the database
            # file and sync both, right there on the loop's thread (milliseconds, every hundred
            # or so checkouts): `Database.checkpoint` does that on a worker thread instead.
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


_request_slots: ContextVar[asyncio.Semaphore | None] = ContextVar("db_slots", default=None)
_holding_slot: ContextVar[bool] = ContextVar("db_slot_held", default=False)


@contextlib.contextmanager
def sessions_per_request(limit: int) -> Iterator[None]:
    """Within this block (one request), at most `limit` sessions are open at once, so one
    request fanning out into many fields cannot take the whole connection pool."""
    token = _request_slots.set(asyncio.Semaphore(limit))
    try:
        yield
    finally:
        _request_slots.reset(token)


@asynccontextmanager
async def _slot() -> AsyncIterator[None]:
    slots = _request_slots.get()
    if slots is None or _holding_slot.get():
        yield
        return
    async with slots:
        token = _holding_slot.set(True)
        try:
            yield
        finally:
            _holding_slot.reset(token)


def _query_only(path: Path) -> sqlite3.Connection:
    """A read-only `sqlite3` connection for use on the event loop's thread."""
    raw = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    raw.execute("PRAGMA query_only=ON")
    raw.execute("PRAGMA busy_timeout=5000")
    return raw


def _inline_sqlite_engine(url: str, path: Path) -> Engine:
    """Read-only `sqlite3` connections used on the event loop thread (see the module doc), for
    the hot reads that cannot run prepared.

    A reader is held only while its statements run, never across a real await, so one or two
    connections serve a whole process; the pool never blocks (unbounded overflow).
    """
    engine = create_engine(
        make_url(url).set(drivername="sqlite+pysqlite"),
        creator=lambda: _query_only(path),
        pool_size=2,
        max_overflow=-1,
    )

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


class Reader(Protocol):
    """What a hot read needs: Core statements in, buffered results out."""

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None, /
    ) -> Result[Any] | Rows: ...


class _InlineReader:
    """Hot reads on a `sqlite3` connection of the loop's thread: statements run prepared, in
    one read transaction (one snapshot) per block; a statement that cannot be prepared (an
    expanding IN list) runs through SQLAlchemy on a pooled connection of its own."""

    __slots__ = ("_connection", "_engine", "raw")

    def __init__(self, raw: sqlite3.Connection, engine: Engine) -> None:
        self.raw = raw
        self._engine = engine
        self._connection: Connection | None = None

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Result[Any] | Rows:
        given = parameters or {}
        prepared = _prepared_for(statement, self._engine.dialect, given)
        if prepared is not None:
            try:
                if not self.raw.in_transaction:
                    self.raw.execute("BEGIN")
                return _run(self.raw, prepared, given)
            except sqlite3.Error:
                pass  # SQLAlchemy runs it again and raises its own error
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection.execute(statement, parameters)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self.raw.in_transaction:
            self.raw.rollback()


Work = Callable[[AsyncSession], Awaitable[T]]
# Units of work one shared transaction takes at most (`Database.together`).
GROUP_LIMIT = 200


class _Group:
    """Small units of work queued at the same moment, committed in one transaction.

    A commit costs more than a small write (on SQLite, writing the changed pages of every index
    the write touched): an inbox storing a burst of webhooks, or recording their outcomes,
    commits once for all those waiting instead of once each. Each caller waits for the commit
    of the transaction that took its work. When that transaction fails, each of its units is
    run again in a transaction of its own, so one bad unit fails alone: a unit must only write
    to the session, and be safe to run again after a rollback.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.queue: list[tuple[Work[Any], asyncio.Future[Any]]] = []
        self.task: asyncio.Task[None] | None = None

    async def run(self, work: Work[T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.queue.append((work, future))
        if self.task is None:
            # A context of its own: not the first caller's (its request, its turn).
            self.task = asyncio.create_task(self._drain(), context=contextvars.Context())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Work[Any], asyncio.Future[Any]]] = []
        try:
            while self.queue:
                batch = self.queue[:GROUP_LIMIT]
                del self.queue[:GROUP_LIMIT]
                try:
                    async with self.db.transaction() as session:
                        results = [await work(session) for work, _ in batch]
                except Exception:
                    await self._one_by_one(batch)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self.task = None
            for _, future in [*batch, *self.queue]:  # stopped part way (shutting down)
                future.cancel()
            self.queue.clear()

    async def _one_by_one(self, batch: list[tuple[Work[Any], asyncio.Future[Any]]]) -> None:
        for work, future in batch:
            try:
                async with self.db.transaction() as session:
                    result = await work(session)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)


class Database:
    """The engines and session factories of one database URL."""

    def __init__(
        self, url: str, *, pool_size: int = POSTGRES_POOL_SIZE, lock_timeout: float = LOCK_TIMEOUT
    ) -> None:
        self.url = url
        self.inline_engine: Engine | None = None
        self.inline_writes = sqlite_path(url) is not None
        if is_sqlite(url):
            self.engine = _sqlite_engine(url, immediate=True, lock_timeout=lock_timeout)
            self.read_engine = _sqlite_engine(url, immediate=False)
            path = sqlite_path(url)
            if path is not None:
                self.inline_engine = _inline_sqlite_engine(url, path)
        else:
            # No pre-ping (a round trip per checkout); connections are recycled instead and
            # one that broke is dropped from the pool by the driver's disconnect check.
            self.engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=300
            )
            self.read_engine = self.engine
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._group = _Group(self)
        self._readers: list[sqlite3.Connection] = []
        self._checkpointer: sqlite3.Connection | None = None  # used on worker threads
        self._checkpoint_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back when it raises."""
        if not self.inline_writes:
            with turns.pinned():
                async with _slot(), self.sessionmaker.begin() as session:
                    yield session
            return
        # SQLAlchemy's `begin()` block commits and closes in a task of its own (so that a
        # cancellation cannot cut them short): one more turn of the event loop, with the one
        # write connection held, behind every other ready request. The inline writer's commit
        # never yields to the loop, so nothing can cut it short: commit and close right here.
        with turns.pinned():
            async with _slot():
                session = self.sessionmaker()
                try:
                    async with session.begin():
                        yield session
                finally:
                    await session.close()

    async def together(self, work: Work[T]) -> T:
        """`work(session)` in a transaction shared with the other work queued at the same
        moment; its result once that transaction committed (see `_Group`)."""
        return await self._group.run(work)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A short read-only session (never shared between concurrently resolved fields)."""
        async with _slot(), self.read_sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Reader]:
        """A pooled connection for Core reads of rows that are only shown, not changed.

        Run only short statements inside, and await nothing else there.
        """
        if self.inline_engine is not None:
            reader = _InlineReader(self._reader(), self.inline_engine)
            try:
                yield reader
            finally:
                reader.close()
                if len(self._readers) < SQLITE_READERS:
                    self._readers.append(reader.raw)
                else:
                    reader.raw.close()
        else:
            async with _slot(), self.read_engine.connect() as connection:
                yield connection

    def _reader(self) -> sqlite3.Connection:
        """A read-only `sqlite3` connection for `read()`, kept open between uses."""
        if self._readers:
            return self._readers.pop()
        path = sqlite_path(self.url)
        assert path is not None
        return _query_only(path)

    async def checkpoint(self) -> None:
        """Copy a SQLite file's write-ahead log back into the database file (a passive
        checkpoint: it waits for no reader or writer) on a worker thread. The inline writer
        leaves this to the server's background work (`maintenance`); nothing to do elsewhere."""
        if self.inline_writes:
            await asyncio.to_thread(self._checkpoint)

    def _checkpoint(self) -> None:
        with self._checkpoint_lock:
            if self._checkpointer is None:
                path = sqlite_path(self.url)
                assert path is not None
                self._checkpointer = sqlite3.connect(
                    path, isolation_level=None, check_same_thread=False
                )
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def ping(self) -> None:
        async with self.read() as connection:
            await connection.execute(_PING)

    async def dispose(self) -> None:
        while self._readers:
            self._readers.pop().close()
        with self._checkpoint_lock:
            if self._checkpointer is not None:
                self._checkpointer.close()
                self._checkpointer = None
        if self.inline_engine is not None:
            self.inline_engine.dispose()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
