"""Hasura Action requests, shaped as Hasura sends them, and the same call through GraphQL."""

from __future__ import annotations

from typing import Any

import httpx

from graphql_payments.hasura.actions import document
from tests.helpers import SHARED_SECRET, GraphQLClient


def payload(
    name: str,
    arguments: dict[str, Any] | None = None,
    *,
    role: str = "user",
    user: str | None = "alice",
) -> dict[str, Any]:
    """The body Hasura posts for action `name` (Hasura's docs: action, input,
    session_variables with lower-case keys, request_query)."""
    session = {"x-hasura-role": role}
    if user is not None:
        session["x-hasura-user-id"] = user
    return {
        "action": {"name": name},
        "input": arguments or {},
        "session_variables": session,
        "request_query": f"query {{ {name} {{ __typename }} }}",
    }


async def act(
    http: httpx.AsyncClient,
    name: str,
    arguments: dict[str, Any] | None = None,
    *,
    role: str = "user",
    user: str | None = "alice",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Post action `name` with the shared secret (or `headers`)."""
    return await http.post(
        "/hasura/actions",
        json=payload(name, arguments, role=role, user=user),
        headers={"X-Payments-Secret": SHARED_SECRET} if headers is None else headers,
    )


async def through_graphql(
    gql: GraphQLClient,
    name: str,
    arguments: dict[str, Any] | None = None,
    *,
    role: str = "user",
    user: str | None = "alice",
) -> Any:
    """The same root field and arguments through /graphql, as Hasura's remote schema calls it."""
    headers = {"X-Payments-Secret": SHARED_SECRET, "x-hasura-role": role}
    if user is not None:
        headers["x-hasura-user-id"] = user
    data = await gql.data(document(name), arguments, headers=headers)
    return without_typename(data["result"])


def without_typename(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_typename(v) for k, v in value.items() if k != "__typename"}
    if isinstance(value, list):
        return [without_typename(v) for v in value]
    return value
