"""The committed schema and Hasura: `schema.graphql` is current, and Hasura can introspect us."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from graphql import build_client_schema

from graphql_payments.events.catalogue import export
from graphql_payments.graphql.schema import sdl
from tests.helpers import SHARED_SECRET, GraphQLClient

ROOT = Path(__file__).resolve().parent.parent
HASURA_REQUEST = json.loads(
    (Path(__file__).parent / "data/hasura_introspection_request.json").read_text()
)
HASURA_OFTYPE_LEVELS = 7

# Type names Hasura generates for its own schema; a remote schema must not reuse them.
HASURA_ROOTS = {"query_root", "mutation_root", "subscription_root"}
POSTGRES_SCALARS = {
    "bigint", "bit", "bool", "boolean", "bpchar", "bytea", "char", "citext", "date", "float8",
    "geography", "geometry", "inet", "int", "int2", "int4", "int8", "integer", "interval",
    "json", "jsonb", "ltree", "money", "name", "numeric", "oid", "smallint", "text", "time",
    "timestamp", "timestamptz", "timetz", "uuid", "varchar",
}  # fmt: skip
HASURA_SUFFIXES = (
    "_bool_exp", "_order_by", "_comparison_exp", "_aggregate", "_aggregate_fields",
    "_mutation_response", "_insert_input", "_set_input", "_inc_input", "_pk_columns_input",
    "_on_conflict", "_constraint", "_update_column", "_select_column", "_stream_cursor_input",
    "_stream_cursor_value_input", "_updates", "_obj_rel_insert_input", "_arr_rel_insert_input",
)  # fmt: skip
HASURA_ENUMS = {"order_by", "cursor_ordering"}


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == sdl(), "schema.graphql is stale: run `make schema` and commit it"


def _depth(ref: dict[str, Any] | None) -> int:
    levels = 0
    while ref is not None and ref.get("ofType") is not None:
        levels += 1
        ref = ref["ofType"]
    return levels


def _type_refs(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    refs: list[tuple[str, dict[str, Any]]] = []
    for gql_type in schema["types"]:
        for field in gql_type.get("fields") or []:
            refs.append((f"{gql_type['name']}.{field['name']}", field["type"]))
            for arg in field["args"]:
                refs.append((f"{gql_type['name']}.{field['name']}({arg['name']})", arg["type"]))
        for value in gql_type.get("inputFields") or []:
            refs.append((f"{gql_type['name']}.{value['name']}", value["type"]))
    return refs


async def test_hasura_introspection_request_is_answered(gql: GraphQLClient) -> None:
    # when: Hasura introspects with only the configured header and the admin role
    body = await gql(
        HASURA_REQUEST["query"],
        HASURA_REQUEST.get("variables"),
        headers={"X-Payments-Secret": SHARED_SECRET, "x-hasura-role": "admin"},
    )
    # then
    assert "errors" not in body, body.get("errors")
    schema = body["data"]["__schema"]
    # Hasura reads a remote schema's subscription root (`irSubscriptionRoot`); ours is
    # `paymentUpdated`, which clients may also use directly over graphql-transport-ws.
    assert schema["subscriptionType"] == {"name": "Subscription"}
    for where, ref in _type_refs(schema):
        # A reference deeper than Hasura asks for would arrive cut off.
        assert _depth(ref) < HASURA_OFTYPE_LEVELS, where
    build_client_schema(body["data"])
    names = {t["name"] for t in schema["types"] if not t["name"].startswith("__")}
    collisions = {
        name
        for name in names
        if name in HASURA_ROOTS
        or name in HASURA_ENUMS
        or name in POSTGRES_SCALARS
        or name.endswith(HASURA_SUFFIXES)
        or re.fullmatch(r"[a-z0-9_]+", name)
    }
    assert not collisions


def test_committed_event_schemas_match_the_catalogue(tmp_path: Path) -> None:
    # given
    written = export(tmp_path)
    # then
    committed = sorted(p.name for p in (ROOT / "schemas" / "events").glob("*.json"))
    assert committed == sorted(p.name for p in written)
    for path in written:
        stale = (ROOT / "schemas" / "events" / path.name).read_text() != path.read_text()
        assert not stale, f"schemas/events/{path.name} is stale: run `make schema` and commit it"
