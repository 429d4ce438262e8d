"""Every operation, called as anonymous, user and admin with inputs drawn from the schema's own
types (hypothesis), answers JSON, never a 5xx and never a masked internal error.

PAYMENTS_TEST_FUZZ_EXAMPLES sets how many calls to try (200 by default, more to dig).
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphql_payments.graphql.schema import schema
from tests.helpers import as_admin, as_user

GRAPHQL = schema._schema
ROLES = {"anonymous": {}, "user": as_user("fuzz-user"), "admin": as_admin("fuzz-admin")}

TEXT = st.one_of(
    st.sampled_from(
        [
            "",
            "basic",
            "standard",
            "order-1",
            "pay_1",
            "pm_card_visa",
            "pm_card_chargeDeclined",
            "pm_unknown",
            "acct_1",
            "usd",
            "JPY",
            "XYZ",
            "https://shop.example/ok",
            "https://shop.example/ok?session={CHECKOUT_SESSION_ID}",
            "javascript:alert(1)",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "2026-01-01T00:00:00",
            "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHxwYXlfMQ",
            "a\x00b",
            "\x00",
            "é✓🙂",
        ]
    ),
    st.text(max_size=40),
    st.text(alphabet="ab\x00-_/:.", min_size=100, max_size=300),
    st.integers(120, 2000).map(lambda n: "x" * n),
)
INTS = st.one_of(
    st.sampled_from([0, 1, -1, 100, 101, 1000, 50_000, 100_000, 100_001]),
    st.integers(-(2**31), 2**31 - 1),
)


def value_of(type_: GraphQLInputType, depth: int = 0) -> st.SearchStrategy[Any]:
    if isinstance(type_, GraphQLNonNull):
        return _non_null(type_.of_type, depth)
    return st.one_of(st.none(), _non_null(type_, depth))


def _non_null(type_: Any, depth: int) -> st.SearchStrategy[Any]:
    if isinstance(type_, GraphQLList):
        return st.lists(value_of(type_.of_type, depth + 1), max_size=3)
    if isinstance(type_, GraphQLEnumType):
        return st.sampled_from(list(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        required = {n: value_of(f.type, depth + 1) for n, f in type_.fields.items()
                    if isinstance(f.type, GraphQLNonNull) and f.default_value is None}  # fmt: skip
        optional = {n: value_of(f.type, depth + 1) for n, f in type_.fields.items()
                    if n not in required}  # fmt: skip
        return st.fixed_dictionaries(required, optional=optional)
    assert isinstance(type_, GraphQLScalarType)
    if type_.name == "Int":
        return INTS
    if type_.name == "Boolean":
        return st.booleans()
    if type_.name == "Float":
        return st.floats(allow_nan=False, allow_infinity=False)
    return TEXT


def selection(type_: GraphQLOutputType, depth: int = 3) -> str:
    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    if isinstance(named, GraphQLUnionType):
        members = " ".join(
            f"... on {member.name} {selection(member, depth)}" for member in named.types
        )
        return "{ __typename " + members + " }"
    assert isinstance(named, GraphQLObjectType)
    parts = ["__typename"]
    for name, field in named.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) for a in field.args.values()):
            continue
        alias = f"{named.name}_{name}: {name}"
        if is_leaf_type(get_named_type(field.type)):
            parts.append(alias)
        elif depth > 0:
            parts.append(f"{alias} {selection(field.type, depth - 1)}")
    return "{ " + " ".join(parts) + " }"


def document(kind: str, name: str, field: GraphQLField) -> str:
    args: dict[str, GraphQLArgument] = field.args
    declared = ", ".join(f"${a}: {arg.type}" for a, arg in args.items())
    passed = ", ".join(f"{a}: ${a}" for a in args)
    head = f"{kind} Fuzz({declared})" if declared else f"{kind} Fuzz"
    call = f"{name}({passed})" if passed else name
    return f"{head} {{ {call} {selection(field.type)} }}"


OPERATIONS = [
    (kind, name, field)
    for kind, root in (("query", GRAPHQL.query_type), ("mutation", GRAPHQL.mutation_type))
    if root is not None
    for name, field in root.fields.items()
]


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, str, dict[str, Any], dict[str, str]]:
    kind, name, field = draw(st.sampled_from(OPERATIONS))
    variables = {a: draw(value_of(arg.type)) for a, arg in field.args.items()}
    role = draw(st.sampled_from(sorted(ROLES)))
    return name, document(kind, name, field), variables, ROLES[role]


def test_every_operation_is_covered() -> None:
    names = {name for _, name, _ in OPERATIONS}
    assert {"checkout", "authorize", "release", "revert", "refund"} <= names
    assert {"me", "creditPackages", "paymentStatus", "paymentHistory", "failedPayments"} <= names


@settings(
    max_examples=int(os.environ.get("PAYMENTS_TEST_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(call=calls())
async def test_no_input_reaches_an_internal_error(
    http: httpx.AsyncClient, call: tuple[str, str, dict[str, Any], dict[str, str]]
) -> None:
    # given
    name, query, variables, headers = call

    # when
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )

    # then
    assert response.status_code < 500, (name, variables, response.text[:500])
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    for error in body.get("errors", []):
        assert error["message"] != "Unexpected error.", (name, variables, body)
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", (name, variables, body)
        assert len(error["message"]) <= 1003
