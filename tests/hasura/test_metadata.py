"""`graphql-payments hasura metadata`: what it prints parses, matches the schema field for field,
and collides with nothing in a typical Hasura project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLType,
    Undefined,
    build_schema,
    get_named_type,
)

from graphql_payments.cli import main
from graphql_payments.config import Settings
from graphql_payments.graphql.schema import schema as strawberry_schema
from graphql_payments.hasura import metadata
from graphql_payments.hasura.roots import action_fields, carried_fields, unsupported_fields
from tests.test_schema import HASURA_ENUMS, HASURA_ROOTS, HASURA_SUFFIXES, POSTGRES_SCALARS

SCHEMA: GraphQLSchema = strawberry_schema._schema
PREFIX = "Payments_"
ACTION_PREFIX = metadata.action_prefix(PREFIX)
BUILTIN = {"String", "Int", "Float", "Boolean", "ID"}

# A typical Hasura project: tables orders, users and payments (with Hasura's generated types and
# root fields), its Relay API, and another remote schema with the usual generic names.
TABLES = ("orders", "users", "payments")
TYPICAL_TYPES = (
    {*HASURA_ROOTS, *HASURA_ENUMS, *POSTGRES_SCALARS}
    | {f"{t}{suffix}" for t in TABLES for suffix in ("", *HASURA_SUFFIXES)}
    | {"PageInfo", "Node", "Money", "Payment", "DateTime", "ValidationError", "NotFoundError"}
    | {"UserError", "ErrorCode", "Me", "Refund", "Dispute", "Query", "Mutation"}
)
TYPICAL_ROOT_FIELDS = {
    f"{t}{suffix}" for t in TABLES for suffix in ("", "_by_pk", "_aggregate", "_stream")
} | {
    f"{verb}_{t}{one}"
    for verb in ("insert", "update", "delete")
    for t in TABLES
    for one in ("", "_one", "_by_pk")
}


def settings(**more: Any) -> Settings:
    return Settings(database_url="sqlite+aiosqlite:///unused.db", **more)


def unwrap(type_: GraphQLType, prefix: str) -> tuple[str, ...]:
    """A type reference as (wrappers..., name without prefix)."""
    if isinstance(type_, GraphQLNonNull):
        return ("!", *unwrap(type_.of_type, prefix))
    if isinstance(type_, GraphQLList):
        return ("[]", *unwrap(type_.of_type, prefix))
    name = get_named_type(type_).name
    return (name.removeprefix(prefix) if name not in BUILTIN else name,)


def relaxed(type_: GraphQLType, default: Any) -> tuple[str, ...]:
    """What the action SDL must say for an argument or input field of ours."""
    shape = unwrap(type_, "")
    return shape[1:] if default is not Undefined and shape[0] == "!" else shape


def test_actions_sdl_parses_and_matches_the_schema_field_for_field() -> None:
    # when
    actions = build_schema(metadata.actions_sdl(PREFIX))
    # then: one action per root field, with its arguments and output
    assert unsupported_fields() == ()
    names = [a.name for a in action_fields()]
    assert len(names) == len(set(names)), "Hasura's action names are one namespace"
    roots = {"query": actions.query_type, "mutation": actions.mutation_type}
    assert {a.name for a in action_fields()} == {
        name for root in roots.values() if root for name in root.fields
    }
    for operation, root_type in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type)):
        fields = {a.field_name for a in action_fields() if a.operation == operation}
        assert fields == set(root_type.fields if root_type else ())
    checked: set[str] = set()
    for action in action_fields():
        root = roots[action.operation]
        assert root is not None
        declared: GraphQLField = root.fields[action.name]
        assert {n: unwrap(a.type, ACTION_PREFIX) for n, a in declared.args.items()} == {
            n: relaxed(a.type, a.default_value) for n, a in action.field.args.items()
        }
        assert unwrap(declared.type, ACTION_PREFIX) == unwrap(action.output, "")
        _same_types(actions, declared.type, checked)
        for argument in declared.args.values():
            _same_types(actions, argument.type, checked)
    assert {"Payment", "Money", "CheckoutInput", "PaymentStatus", "DateTime"} <= checked


def _same_types(actions: GraphQLSchema, type_: GraphQLType, checked: set[str]) -> None:
    """Every custom type reachable from `type_` has exactly our type's fields and values."""
    named = get_named_type(type_)
    ours_name = named.name.removeprefix(ACTION_PREFIX)
    if named.name in BUILTIN or ours_name in checked:
        return
    checked.add(ours_name)
    ours = SCHEMA.get_type(ours_name)
    assert ours is not None, named.name
    if isinstance(named, GraphQLObjectType):
        assert isinstance(ours, GraphQLObjectType)
        carried = carried_fields(ours)
        assert {n: unwrap(f.type, ACTION_PREFIX) for n, f in named.fields.items()} == {
            n: unwrap(f.type, "") for n, f in carried.items()
        }
        for field in named.fields.values():
            _same_types(actions, field.type, checked)
    elif isinstance(named, GraphQLInputObjectType):
        assert isinstance(ours, GraphQLInputObjectType)
        assert {n: unwrap(f.type, ACTION_PREFIX) for n, f in named.fields.items()} == {
            n: relaxed(f.type, f.default_value) for n, f in ours.fields.items()
        }
        for input_field in named.fields.values():
            _same_types(actions, input_field.type, checked)
    elif isinstance(named, GraphQLEnumType):
        assert isinstance(ours, GraphQLEnumType)
        assert list(named.values) == list(ours.values)
    elif not isinstance(named, GraphQLScalarType):
        pytest.fail(f"{named.name}: not a type Hasura actions can hold")


def test_the_prefix_removes_every_collision_with_a_typical_hasura_project() -> None:
    # given
    ours = {n for n in SCHEMA.type_map if not n.startswith("__")}
    assert ours & TYPICAL_TYPES, "the test's typical project should collide without a prefix"
    action_types = set(build_schema(metadata.actions_sdl(PREFIX)).type_map) - {"Query", "Mutation"}
    remote_types = {n if n in BUILTIN else PREFIX + n for n in ours}
    # then: neither the action types nor the remote schema's prefixed types collide with the
    # project, nor with each other (GraphQL's own scalars are shared by everyone)
    assert not (action_types - BUILTIN) & TYPICAL_TYPES
    assert not (remote_types - BUILTIN) & TYPICAL_TYPES
    assert not (action_types - BUILTIN) & (remote_types - BUILTIN)
    # then: action root fields collide with no table's; the remote schema's sit in a namespace
    assert not {a.name for a in action_fields()} & TYPICAL_ROOT_FIELDS
    assert metadata.DEFAULT_NAMESPACE not in TYPICAL_ROOT_FIELDS | {a.name for a in action_fields()}


def test_actions_yaml_has_handler_headers_and_role_permissions() -> None:
    # given
    configured = settings(admin_roles="admin,manager", user_roles="user,customer")
    # when
    found = metadata.actions_yaml(configured, prefix=PREFIX)
    by_env = metadata.actions_yaml(configured, url="https://pay.example/", prefix=PREFIX)
    # then
    entries = {entry["name"]: entry for entry in found["actions"]}
    assert set(entries) == {a.name for a in action_fields()}
    for action in action_fields():
        entry = entries[action.name]
        definition = entry["definition"]
        assert definition["handler"] == "{{PAYMENTS_URL}}/hasura/actions"
        assert definition["headers"] == [
            {"name": "X-Payments-Secret", "value_from_env": "PAYMENTS_SHARED_SECRET"}
        ]
        assert definition.get("type", "mutation") == action.operation
        roles = [p["role"] for p in entry["permissions"]]
        assert roles == (["manager"] if action.admin_only else ["user", "customer", "manager"])
    assert {a.name for a in action_fields() if a.admin_only} >= {
        "release",
        "revert",
        "refund",
        "failedPayments",
    }
    assert by_env["actions"][0]["definition"]["handler"] == "https://pay.example/hasura/actions"
    custom = found["custom_types"]
    assert {"name": ACTION_PREFIX + "Payment"} in custom["objects"]
    assert {"name": ACTION_PREFIX + "RefundInput"} in custom["input_objects"]


def test_remote_schema_permissions_hide_admin_fields_from_user_roles() -> None:
    # given
    configured = settings(admin_roles="admin,manager", user_roles="user")
    # when
    [entry] = metadata.remote_schemas_yaml(configured, prefix=PREFIX)
    # then
    definition = entry["definition"]
    assert definition["url_from_env"] == "PAYMENTS_GRAPHQL_URL"
    assert definition["headers"] == [
        {"name": "X-Payments-Secret", "value_from_env": "PAYMENTS_SHARED_SECRET"}
    ]
    assert definition["customization"]["type_names"]["prefix"] == PREFIX
    permissions = {p["role"]: build_schema(p["definition"]["schema"]) for p in entry["permissions"]}
    assert set(permissions) == {"user", "manager"}  # Hasura's admin needs no permission
    user, manager = permissions["user"], permissions["manager"]
    admin_only = {a.field_name for a in action_fields() if a.admin_only}
    for role_schema, hidden in ((user, admin_only), (manager, set())):
        for operation in ("query", "mutation"):
            root = role_schema.query_type if operation == "query" else role_schema.mutation_type
            assert root is not None
            expected = {a.field_name for a in action_fields() if a.operation == operation}
            expected -= hidden
            assert set(root.fields) == expected
    # then: a user role may not act for another user, and sees no admin-only type
    user_query = user.query_type
    assert user_query is not None
    assert "userId" not in user_query.fields["paymentHistory"].args
    authorize_input = user.get_type("AuthorizeInput")
    assert isinstance(authorize_input, GraphQLInputObjectType)
    assert "userId" not in authorize_input.fields
    assert user.get_type("PaymentFailure") is None
    assert user.get_type("RefundInput") is None
    assert manager.get_type("RefundInput") is not None
    # then: every role schema is a subset of ours (same fields where kept)
    for role_schema in permissions.values():
        for name, type_ in role_schema.type_map.items():
            if name.startswith("__") or name in BUILTIN:
                continue
            ours = SCHEMA.get_type(name)
            assert ours is not None, name
            assert isinstance(ours, type(type_)), name
            fields = getattr(type_, "fields", {})
            assert set(fields) <= set(getattr(ours, "fields", {})), name


def test_cli_prints_and_writes_the_three_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setenv("PAYMENTS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/x.db")
    # when
    printed = main(["hasura", "metadata", "--url", "http://payments:8000", "--prefix", "Pay_"])
    out = capsys.readouterr().out
    written = main(["hasura", "metadata", "--out", str(tmp_path / "metadata")])
    # then
    assert printed == written == 0
    assert "# ---- actions.graphql ----" in out
    assert "handler: http://payments:8000/hasura/actions" in out
    assert "url: http://payments:8000/graphql" in out
    assert "PayAction_CheckoutSuccess" in out
    files = {p.name: p.read_text() for p in (tmp_path / "metadata").iterdir()}
    assert set(files) == {"actions.graphql", "actions.yaml", "remote_schemas.yaml"}
    build_schema(files["actions.graphql"])
    assert yaml.safe_load(files["actions.yaml"])["actions"]
    [remote] = yaml.safe_load(files["remote_schemas.yaml"])
    assert remote["definition"]["customization"]["type_names"]["prefix"] == "Payments_"
    assert remote["definition"]["customization"]["root_fields_namespace"] == "payments_api"
