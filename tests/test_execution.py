"""Compiled completion answers exactly as graphql-core does, and is used where it applies."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import gc
from inspect import isawaitable
from typing import Any

import pytest
import strawberry
from graphql import (
    ExecutionResult,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    execute,
    parse,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graphql_payments.graphql import execution
from graphql_payments.graphql.execution import CompiledExecutionContext


@strawberry.type
class Amount:
    value: int
    currency: str

    @strawberry.field
    def shown(self) -> str:
        return f"{self.value} {self.currency}"

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("no")


@strawberry.type
class Item:
    id: strawberry.ID
    name: str | None
    price: Amount
    tags: list[str]
    maybe: Amount | None
    required: str

    @strawberry.field
    async def later(self) -> int:
        return 7


@strawberry.type
class Other:
    note: str


@strawberry.enum
class Level(enum.Enum):
    HIGH = "high"


@strawberry.type
class Odd:
    """Values a leaf type coerces, or refuses."""

    flag: str
    number: strawberry.ID
    level: Level
    big: int


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [
            Item(
                id=strawberry.ID(str(n)),
                name=None if n == 1 else f"item {n}",
                price=Amount(value=100 * n, currency="EUR"),
                tags=["a", "b"][: n % 3],
                maybe=Amount(value=n, currency="JPY") if n % 2 else None,
                required="x" if n != 2 else None,  # type: ignore[arg-type]
            )
            for n in range(4)
        ]

    @strawberry.field
    def odd(self) -> Odd:
        return Odd(flag=True, number=5, level=Level.HIGH, big=2**40)  # type: ignore[arg-type]

    @strawberry.field
    def either(self) -> Item | Other:
        return Other(note="other")


schema = strawberry.Schema(query=Query)

QUERIES = {
    "plain": "{ items { id name price { value currency shown } tags maybe { value } } }",
    "aliases and typename": "{ items { key: id __typename p: price { __typename v: value } } }",
    "fragments": """
        query { items { ...Fields price { ... on Amount { currency } } } }
        fragment Fields on Item { id name }
    """,
    "non-null violated": "{ items { id required } }",
    "raising resolver": "{ items { price { broken } } }",
    "async resolver": "{ items { id later } }",
    "merged fields": "{ items { price { value } price { currency } } }",
    "directives": "query($yes: Boolean!) { items { id name @include(if: $yes) } }",
    "coerced leaves": "{ odd { flag number level } }",
    "int out of range": "{ odd { flag big } }",
    "union": "{ either { __typename ... on Other { note } ... on Item { id } } }",
}


def _run(query: str, executor: type[Any]) -> ExecutionResult:
    document = parse(query)

    async def run() -> ExecutionResult:
        result = execute(
            schema._schema,
            document,
            variable_values={"yes": True},
            executor_class=executor,
        )
        return await result if isawaitable(result) else result

    return asyncio.run(run())


@pytest.mark.parametrize("name", QUERIES)
def test_compiled_completion_answers_as_graphql_core(name: str) -> None:
    query = QUERIES[name]
    expected = _run(query, StrawberryGraphQLCoreExecutionContext)
    found = _run(query, CompiledExecutionContext)
    assert found.data == expected.data
    assert [e.formatted for e in found.errors or []] == [e.formatted for e in expected.errors or []]


def test_plain_selections_are_compiled_and_others_are_not() -> None:
    execution._plans.clear()
    _run(QUERIES["plain"], CompiledExecutionContext)
    _run(QUERIES["async resolver"], CompiledExecutionContext)
    _run(QUERIES["merged fields"], CompiledExecutionContext)
    compiled: dict[str, list[bool]] = {}
    for (type_name, _), (_, plan) in execution._plans.items():
        compiled.setdefault(type_name, []).append(plan is not None)
    # the plain query: one plan for Item (covering price and maybe); the async resolver and
    # the field selected twice keep graphql-core's way
    assert compiled["Item"] == [True, False, False]


def _record(currency: str) -> Any:
    from graphql_payments.db import utcnow
    from graphql_payments.payments import models

    return models.Payment(
        id="pay_1", user_id="u", kind=models.PaymentKind.CREDIT_PURCHASE,
        status=models.PaymentStatus.PENDING, amount=1000, currency=currency, refunded_amount=0,
        transfer_reversed_amount=0, created_at=utcnow(), updated_at=utcnow(),
    )  # fmt: skip


def test_types_built_per_row_get_every_field() -> None:
    # `of` skips the dataclass __init__ (and its defaults): every field must still be there
    from graphql_payments.payments.types import Payment

    shown = Payment.of(_record("USD"))
    for field in dataclasses.fields(Payment):
        if field.init:
            getattr(shown, field.name)
    assert shown.amount.amount == 1000
    assert shown.amount.formatted() == "10.00 USD"


def test_a_payment_shows_its_record_as_it_was_when_shown() -> None:
    from graphql_payments.payments import models
    from graphql_payments.payments.types import Payment

    record = _record("JPY")
    shown = Payment.of(record)
    record.status = models.PaymentStatus.SUCCEEDED
    record.refunded_amount = 500
    assert shown.status is models.PaymentStatus.PENDING
    assert shown.refunded_amount.formatted() == "0 JPY"
    assert shown.captured_amount is None
    assert not hasattr(shown, "version")  # a column, not a field of the type


def _left_in_cycles(executor: type[Any]) -> list[Any]:
    """The execution contexts a query run with `executor` leaves for the cycle collector."""
    gc.collect()
    gc.disable()
    try:
        _run(QUERIES["plain"], executor)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return [found for found in gc.garbage if isinstance(found, executor)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_an_execution_is_freed_as_soon_as_it_ends() -> None:
    # graphql-core's context holds its own bound methods (resolve info's helpers): a cycle
    assert _left_in_cycles(StrawberryGraphQLCoreExecutionContext)
    assert _left_in_cycles(CompiledExecutionContext) == []


def test_resolvers_still_reach_their_execution_through_its_helpers() -> None:
    async def one(n: int) -> int:
        await asyncio.sleep(0)
        return n

    async def gathered(_root: Any, info: GraphQLResolveInfo[Any]) -> list[int]:
        info.async_helpers.track([one(0)])
        return list(await info.async_helpers.gather([one(1), one(2)]))

    query = GraphQLObjectType(
        "Query", {"gathered": GraphQLField(GraphQLList(GraphQLInt), resolve=gathered)}
    )

    async def run() -> ExecutionResult:
        result = execute(
            GraphQLSchema(query), parse("{ gathered }"), executor_class=CompiledExecutionContext
        )
        return await result if isawaitable(result) else result

    assert asyncio.run(run()).data == {"gathered": [1, 2]}
