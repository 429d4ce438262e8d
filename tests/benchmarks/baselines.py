"""The reference apps the benchmark compares the server with, each as a uvicorn factory.

They read the same seeded SQLite file (`BENCH_SQLITE_PATH`) and answer the same shapes as the
server's queries, so the only difference is the stack in between:

- `starlette_json`: parse a JSON POST, answer JSON (the ceiling of the HTTP stack);
- `starlette_aiosqlite`: one aiosqlite connection shared by all requests, a primary-key read;
- `starlette_core`: a SQLAlchemy Core engine (aiosqlite, its default pool), the same read;
- `graphql_core`: graphql-core with parsed and validated documents cached, no database;
- `strawberry_orm`: Strawberry with its parser and validation caches, an ORM session per
  request (a primary-key read, and a 20-row list);
- `textbook`: the same Strawberry app without caches, as most tutorials build it.

Each app also answers `GET /health`, which the benchmark polls until it is up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiosqlite
import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    build_schema,
    execute,
    parse,
    validate,
)
from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

PK_SQL = "SELECT id, status, amount, currency, created_at FROM payments WHERE id = ?"


def _path() -> str:
    return os.environ["BENCH_SQLITE_PATH"]


def _url() -> str:
    return f"sqlite+aiosqlite:///{_path()}"


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _payment(row: Any) -> dict[str, Any]:
    created = row[4]
    return {
        "id": row[0],
        "status": row[1],
        "amount": {"amount": row[2], "currency": row[3]},
        "createdAt": created if isinstance(created, str) else created.isoformat(),
    }


def _app(routes: list[Route], lifespan: Any = None) -> Starlette:
    return Starlette(routes=[*routes, Route("/health", _health)], lifespan=lifespan)


def starlette_json() -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"data": {"ok": True, "variables": body.get("variables") or {}}})

    return _app([Route("/", echo, methods=["POST"])])


def starlette_aiosqlite() -> Starlette:
    shared: dict[str, aiosqlite.Connection] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        shared["db"] = await aiosqlite.connect(_path())
        try:
            yield
        finally:
            await shared["db"].close()

    async def read(request: Request) -> Response:
        body = await request.json()
        async with shared["db"].execute(PK_SQL, (body["variables"]["id"],)) as cursor:
            row = await cursor.fetchone()
        return JSONResponse({"data": {"paymentStatus": _payment(row) if row else None}})

    return _app([Route("/", read, methods=["POST"])], lifespan)


payments_table = Table(
    "payments",
    MetaData(),
    Column("id", String, primary_key=True),
    Column("user_id", String),
    Column("status", String),
    Column("amount", BigInteger),
    Column("currency", String),
    Column("created_at", DateTime),
)


def starlette_core() -> Starlette:
    engine = create_async_engine(_url())
    t = payments_table
    query = select(t.c.id, t.c.status, t.c.amount, t.c.currency, t.c.created_at)

    async def read(request: Request) -> Response:
        body = await request.json()
        async with engine.connect() as connection:
            result = await connection.execute(query.where(t.c.id == body["variables"]["id"]))
            row = result.first()
        return JSONResponse({"data": {"paymentStatus": _payment(row) if row else None}})

    return _app([Route("/", read, methods=["POST"])])


PACKAGES_SDL = """
type Money { amount: Int! currency: String! formatted: String! }
type CreditPackage { id: ID! name: String! credits: Int! price: Money! description: String! }
type Query { creditPackages: [CreditPackage!]! }
"""

PACKAGES = [
    {
        "id": "basic",
        "name": "Basic",
        "credits": 100,
        "price": {"amount": 1000, "currency": "USD", "formatted": "10.00 USD"},
        "description": "100 credits for 10.00 USD",
    },
    {
        "id": "standard",
        "name": "Standard",
        "credits": 500,
        "price": {"amount": 4500, "currency": "USD", "formatted": "45.00 USD"},
        "description": "500 credits for 45.00 USD (10% off)",
    },
]


def graphql_core() -> Starlette:
    schema: GraphQLSchema = build_schema(PACKAGES_SDL)
    documents: dict[str, tuple[DocumentNode, list[GraphQLError]]] = {}
    root = {"creditPackages": lambda _info: PACKAGES}

    async def graphql(request: Request) -> Response:
        body = await request.json()
        query = body["query"]
        cached = documents.get(query)
        if cached is None:
            document = parse(query)
            cached = documents[query] = (document, validate(schema, document))
        document, errors = cached
        if errors:
            return JSONResponse({"errors": [e.formatted for e in errors]})
        result = execute(schema, document, root, variable_values=body.get("variables"))
        assert isinstance(result, ExecutionResult)
        return JSONResponse(result.formatted)

    return _app([Route("/graphql", graphql, methods=["POST"])])


class _Base(DeclarativeBase):
    pass


class PaymentRow(_Base):
    __tablename__ = "payments"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


@strawberry.type
class Money:
    amount: int
    currency: str


@strawberry.type
class Payment:
    id: strawberry.ID
    status: str
    amount: Money
    created_at: dt.datetime

    @classmethod
    def of(cls, row: PaymentRow) -> Payment:
        return cls(
            id=strawberry.ID(row.id),
            status=row.status,
            amount=Money(amount=row.amount, currency=row.currency),
            created_at=row.created_at.replace(tzinfo=dt.UTC),
        )


def _strawberry(extensions: list[Callable[[], Any]]) -> Starlette:
    engine = create_async_engine(_url())
    sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)

    @strawberry.type
    class Query:
        @strawberry.field
        async def payment_status(self, id: strawberry.ID) -> Payment | None:
            async with sessions() as session:
                row = await session.get(PaymentRow, str(id))
            return Payment.of(row) if row is not None else None

        @strawberry.field
        async def payment_history(self, user_id: str, first: int = 20) -> list[Payment]:
            query = (
                select(PaymentRow)
                .where(PaymentRow.user_id == user_id)
                .order_by(PaymentRow.created_at.desc(), PaymentRow.id.desc())
                .limit(first)
            )
            async with sessions() as session:
                rows = (await session.execute(query)).scalars().all()
            return [Payment.of(row) for row in rows]

    schema = strawberry.Schema(query=Query, extensions=extensions)
    return _app([Route("/graphql", GraphQL(schema), methods=["POST"])])


def strawberry_orm() -> Starlette:
    return _strawberry([lambda: ParserCache(maxsize=100), lambda: ValidationCache(maxsize=100)])


def textbook() -> Starlette:
    return _strawberry([])
