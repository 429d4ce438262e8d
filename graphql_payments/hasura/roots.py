"""The schema's root fields seen as Hasura Actions: one action per query and mutation field.

An action's name and arguments are its root field's (a query whose name a mutation also has,
such as `autopay`, is the action `getAutopay`: Hasura's action names are one namespace).
Hasura's custom types have no unions or interfaces, so a mutation's result union becomes its
success member (the one member that does not implement `UserError`); its error members become
4xx answers instead. Inside output objects, fields Hasura cannot carry (fields with arguments,
unions, interfaces) are left out, the same way in the generated types and in the selection the
handler asks for, so the two never differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLType,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
)

from graphql_payments.graphql.permissions import is_admin_only
from graphql_payments.graphql.schema import schema as strawberry_schema

USER_ERROR = "UserError"
OPERATIONS = ("query", "mutation")


@dataclass(frozen=True, slots=True, eq=False)
class ActionField:
    name: str  # the action's name: the root field's, or get<Field> (see the module's docstring)
    field_name: str
    operation: str  # "query" or "mutation"
    field: GraphQLField
    output: GraphQLType  # the field's type, a result union replaced by its success member
    union: GraphQLUnionType | None  # the result union, when the field returns one
    admin_only: bool
    description: str | None


def rewrap(type_: GraphQLType, named: GraphQLNamedType) -> GraphQLType:
    """`type_` with its named type replaced by `named`, keeping list and non-null wrappers."""
    if isinstance(type_, GraphQLNonNull):
        return GraphQLNonNull(rewrap(type_.of_type, named))  # type: ignore[type-var]
    if isinstance(type_, GraphQLList):
        return GraphQLList(rewrap(type_.of_type, named))
    return named


def is_user_error(type_: GraphQLObjectType) -> bool:
    return any(interface.name == USER_ERROR for interface in type_.interfaces)


def success_member(union: GraphQLUnionType) -> GraphQLObjectType | None:
    """The one member of a result union that is not a UserError (None if there is not one)."""
    members: list[GraphQLObjectType] = [m for m in union.types if not is_user_error(m)]
    return members[0] if len(members) == 1 else None


def carried_fields(type_: GraphQLObjectType) -> dict[str, GraphQLField]:
    """The fields of an output object that an action's output type carries."""
    return {
        name: field
        for name, field in type_.fields.items()
        if not field.args
        and not isinstance(get_named_type(field.type), GraphQLUnionType | GraphQLInterfaceType)
    }


def _output(field: GraphQLField) -> tuple[GraphQLType, GraphQLUnionType | None] | None:
    """An action's output type for a root field, and its result union; None when Hasura could
    not carry it (a scalar, an interface, a union without one success member)."""
    named = get_named_type(field.type)
    if isinstance(named, GraphQLUnionType):
        success = success_member(named)
        return (rewrap(field.type, success), named) if success is not None else None
    if isinstance(named, GraphQLObjectType):
        return field.type, None
    return None


@cache
def unsupported_fields() -> tuple[str, ...]:
    """Root fields that cannot be actions (the tests require there are none)."""
    schema = strawberry_schema._schema
    roots = [r for r in (schema.query_type, schema.mutation_type) if r is not None]
    return tuple(n for root in roots for n, f in root.fields.items() if _output(f) is None)


@cache
def action_fields() -> tuple[ActionField, ...]:
    """Every query and mutation field of the schema, as an action."""
    schema = strawberry_schema._schema
    mutations = set(schema.mutation_type.fields) if schema.mutation_type else set()
    found: list[ActionField] = []
    for operation in OPERATIONS:
        root = schema.query_type if operation == "query" else schema.mutation_type
        if root is None:
            continue
        for name, field in root.fields.items():
            shape = _output(field)
            if shape is None:
                continue
            output, union = shape
            strawberry_field = strawberry_schema.get_field_for_type(name, root.name)
            clash = operation == "query" and name in mutations
            found.append(
                ActionField(
                    name=f"get{name[0].upper()}{name[1:]}" if clash else name,
                    field_name=name,
                    operation=operation,
                    field=field,
                    output=output,
                    union=union,
                    admin_only=is_admin_only(strawberry_field),
                    description=field.description,
                )
            )
    return tuple(found)


def selection(type_: GraphQLType, path: tuple[str, ...] = ()) -> str:
    """The selection set asking for everything an output object carries, recursively.

    A field whose object type is already on the path is left out (a cycle)."""
    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    assert isinstance(named, GraphQLObjectType)
    parts: list[str] = []
    for name, field in carried_fields(named).items():
        inner = get_named_type(field.type)
        if is_leaf_type(inner):
            parts.append(name)
        elif inner.name not in path:
            parts.append(name + " " + selection(field.type, (*path, named.name)))
    return "{ " + " ".join(parts) + " }"
