"""Remote joins: Hasura asks one aliased `paymentStatus(orderId:)` per row of a table, in one
request; they are read together, and callers without identity get nulls, not an error that
would drop Hasura's whole response. Such a join costs a few thousand under the query cost limit
(PAYMENTS_MAX_QUERY_COST), so it passes while expensive fields stay bounded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from graphql_payments.payments.models import PaymentKind, PaymentStatus
from graphql_payments.services import Services
from tests.factories import payment_rows
from tests.helpers import SHARED_SECRET, GraphQLClient, as_user

ORDERS = 1000
TRUSTED = {"X-Payments-Secret": SHARED_SECRET}


def join_query(orders: int, fields: str = "orderId status amount { amount currency }") -> str:
    """What Hasura sends for a remote relationship orders.id -> paymentStatus(orderId:)."""
    aliases = " ".join(
        f'p{n}: paymentStatus(orderId: "order-{n:04d}") {{ {fields} }}' for n in range(orders)
    )
    return "query { " + aliases + " }"


@contextmanager
def statements(services: Services) -> Iterator[list[str]]:
    """Every SQL statement the app sends while the block runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    engines: set[Engine] = {services.db.engine.sync_engine, services.db.read_engine.sync_engine}
    if services.db.inline_engine is not None:
        engines.add(services.db.inline_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def test_a_join_over_1000_orders_is_one_read(gql: GraphQLClient, services: Services) -> None:
    # given
    await payment_rows(services, ORDERS, kind=PaymentKind.ESCROW, status=PaymentStatus.AUTHORIZED)
    query = join_query(ORDERS)
    headers = TRUSTED | {"x-hasura-role": "user", "x-hasura-user-id": "alice"}
    # A new document of a thousand fields is parsed and validated once (about 0.3-0.8 s on
    # this machine, all in graphql-core); Hasura sends the same text for the same rows, and the
    # parser and validation caches keep it.
    await gql.data(query, headers=headers)
    # when
    with statements(services) as sent:
        data = await gql.data(query, headers=headers)
    # then
    assert [data[f"p{n}"]["orderId"] for n in range(ORDERS)] == [
        f"order-{n:04d}" for n in range(ORDERS)
    ]
    assert {data[f"p{n}"]["status"] for n in range(ORDERS)} == {"AUTHORIZED"}
    reads = [s for s in sent if "FROM payments" in s]
    assert len(reads) == 1, reads


async def test_a_join_shows_only_the_callers_payments(
    gql: GraphQLClient, services: Services
) -> None:
    # given: orders 0-1 are alice's, 2-3 bob's
    await payment_rows(services, 2, kind=PaymentKind.ESCROW, status=PaymentStatus.AUTHORIZED)
    await payment_rows(
        services,
        2,
        user_id="bob",
        kind=PaymentKind.ESCROW,
        status=PaymentStatus.AUTHORIZED,
        offset=2,
    )
    query = join_query(5, "orderId userId")
    # when
    as_alice = await gql.data(query, headers=as_user("alice"))
    anonymous = await gql(query)
    # then: others' and missing orders are null; anonymous callers get nulls, no errors
    assert [as_alice[f"p{n}"] and as_alice[f"p{n}"]["userId"] for n in range(5)] == [
        "alice",
        "alice",
        None,
        None,
        None,
    ]
    assert "errors" not in anonymous
    assert set(anonymous["data"].values()) == {None}


async def test_expensive_aliases_are_still_limited(gql: GraphQLClient) -> None:
    # given: 200 aliased pages of 100 payments: a cost far over the limit
    query = (
        "query { "
        + " ".join(
            f"h{n}: paymentHistory(first: 100) {{ edges {{ node {{ id }} }} }}" for n in range(200)
        )
        + " }"
    )
    # when
    body = await gql(query, headers=as_user("alice"))
    # then
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
