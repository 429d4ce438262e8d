"""What an operator pastes into Hasura, derived from the live schema so it cannot drift.

`graphql-payments hasura metadata` prints (or writes, with `--out`) three Hasura CLI metadata
files:

* `actions.graphql`: one action per root field (`roots.py`) with its custom types. Hasura puts
  action types in the same namespace as its tables' and remote schemas' types, so every type
  except GraphQL's own scalars gets the action prefix (`PaymentsAction_` for `--prefix
  Payments_`). Hasura custom types have no default values: an argument or input field that is
  non-null with a default here is optional there (the handler applies the default).
* `actions.yaml`: each action's handler (`{{PAYMENTS_URL}}/hasura/actions`, or `--url`), the
  shared secret forwarded from Hasura's environment (`PAYMENTS_SHARED_SECRET`), and permissions
  for the configured roles (admin-only fields for `PAYMENTS_ADMIN_ROLES` only).
* `remote_schemas.yaml`: the remote schema (`{{PAYMENTS_GRAPHQL_URL}}` from the environment, or
  `--url`/graphql), with the same header, the type-name prefix (`--prefix`), its root fields
  under a namespace (so they never collide with the actions or tables), and one permission per
  configured role: user roles see no admin-only field, and no `userId` argument or input field
  (acting for another user is for admins), so Hasura never forwards a call that would end in a
  FORBIDDEN error and drop a whole response.

Hasura's own `admin` role sees everything without permissions, so it is never listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from graphql import (
    DocumentNode,
    FieldDefinitionNode,
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLType,
    InputObjectTypeDefinitionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    NamedTypeNode,
    Node,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    TypeDefinitionNode,
    Undefined,
    UnionTypeDefinitionNode,
    get_named_type,
    parse,
    print_ast,
    print_schema,
    specified_scalar_types,
    visit,
)
from graphql.language import Visitor
from graphql.language.block_string import print_block_string

from graphql_payments.config import Settings
from graphql_payments.graphql.schema import schema as strawberry_schema
from graphql_payments.hasura.roots import ActionField, action_fields, carried_fields

DEFAULT_PREFIX = "Payments_"
DEFAULT_NAMESPACE = "payments_api"
REMOTE_SCHEMA_NAME = "payments"
SECRET_HEADER = "X-Payments-Secret"
SECRET_ENV = "PAYMENTS_SHARED_SECRET"
HANDLER_ENV = "PAYMENTS_URL"
GRAPHQL_URL_ENV = "PAYMENTS_GRAPHQL_URL"
HASURA_ADMIN = "admin"
ACTION_TIMEOUT = 30
REMOTE_TIMEOUT = 60
ADMIN_ONLY_ARGUMENT = "userId"  # optional, it is acting for another user: admins only


def action_prefix(prefix: str) -> str:
    """The prefix of action types: `Payments_` -> `PaymentsAction_`, distinct from the remote
    schema's, since Hasura refuses two definitions of one type name."""
    if not prefix:
        return "Action_"
    return prefix[:-1] + "Action_" if prefix.endswith("_") else prefix + "Action"


def is_builtin(name: str) -> bool:
    return name in specified_scalar_types


@dataclass
class _Types:
    """The custom types one set of actions needs, by name, in the order first met."""

    objects: dict[str, GraphQLObjectType] = field(default_factory=dict)
    inputs: dict[str, GraphQLInputObjectType] = field(default_factory=dict)
    enums: dict[str, GraphQLEnumType] = field(default_factory=dict)
    scalars: dict[str, GraphQLScalarType] = field(default_factory=dict)

    def add(self, type_: GraphQLType) -> None:
        named: GraphQLNamedType = get_named_type(type_)
        name = named.name
        if isinstance(named, GraphQLScalarType):
            if not is_builtin(name):
                self.scalars.setdefault(name, named)
        elif isinstance(named, GraphQLEnumType):
            self.enums.setdefault(name, named)
        elif isinstance(named, GraphQLInputObjectType):
            if name not in self.inputs:
                self.inputs[name] = named
                for input_field in named.fields.values():
                    self.add(input_field.type)
        elif isinstance(named, GraphQLObjectType):
            if name not in self.objects:
                self.objects[name] = named
                for output_field in carried_fields(named).values():
                    self.add(output_field.type)
        else:
            raise TypeError(f"{name}: Hasura custom types cannot hold a {type(named).__name__}.")


class Renamer:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def name(self, name: str) -> str:
        return name if is_builtin(name) else self.prefix + name

    def ref(self, type_: GraphQLType, *, optional: bool = False) -> str:
        """`type_` as written in SDL, renamed; `optional` drops the outer non-null."""
        if isinstance(type_, GraphQLNonNull):
            inner = self.ref(type_.of_type)
            return inner if optional else inner + "!"
        if isinstance(type_, GraphQLList):
            return "[" + self.ref(type_.of_type) + "]"
        return self.name(get_named_type(type_).name)


def _optional(definition: GraphQLArgument | GraphQLInputField) -> bool:
    return definition.default_value is not Undefined


def _described(description: str | None, text: str, indent: str = "") -> list[str]:
    lines: list[str] = []
    if description:
        block = print_block_string(description)
        lines.extend(indent + line for line in block.splitlines())
    lines.append(indent + text)
    return lines


def actions_sdl(prefix: str = DEFAULT_PREFIX) -> str:
    """`actions.graphql`: the actions as Query and Mutation fields, and their custom types."""
    rename = Renamer(action_prefix(prefix))
    types = _Types()
    lines: list[str] = []
    for operation, root in (("query", "Query"), ("mutation", "Mutation")):
        chosen = [a for a in action_fields() if a.operation == operation]
        if not chosen:
            continue
        lines.append(f"type {root} {{")
        for action in chosen:
            arguments = ", ".join(
                f"{name}: {rename.ref(arg.type, optional=_optional(arg))}"
                for name, arg in action.field.args.items()
            )
            call = f"{action.name}({arguments})" if arguments else action.name
            lines.extend(
                _described(action.description, f"{call}: {rename.ref(action.output)}", "  ")
            )
            for argument in action.field.args.values():
                types.add(argument.type)
            types.add(action.output)
        lines += ["}", ""]
    for scalar in types.scalars.values():
        lines += [*_described(scalar.description, f"scalar {rename.name(scalar.name)}"), ""]
    for enum in types.enums.values():
        lines += _described(enum.description, f"enum {rename.name(enum.name)} {{")
        lines += [f"  {value}" for value in enum.values]
        lines += ["}", ""]
    for input_type in types.inputs.values():
        lines += _described(input_type.description, f"input {rename.name(input_type.name)} {{")
        for name, input_field in input_type.fields.items():
            ref = rename.ref(input_field.type, optional=_optional(input_field))
            lines += _described(input_field.description, f"{name}: {ref}", "  ")
        lines += ["}", ""]
    for object_type in types.objects.values():
        lines += _described(object_type.description, f"type {rename.name(object_type.name)} {{")
        for name, output_field in carried_fields(object_type).items():
            lines += _described(
                output_field.description, f"{name}: {rename.ref(output_field.type)}", "  "
            )
        lines += ["}", ""]
    return "\n".join(lines)


def _roles(settings: Settings, action: ActionField) -> list[str]:
    roles = (
        settings.admin_roles if action.admin_only else [*settings.user_roles, *settings.admin_roles]
    )
    return [role for role in dict.fromkeys(roles) if role != HASURA_ADMIN]


def _secret_header() -> list[dict[str, str]]:
    return [{"name": SECRET_HEADER, "value_from_env": SECRET_ENV}]


def actions_yaml(
    settings: Settings,
    *,
    url: str | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> dict[str, Any]:
    """`actions.yaml`: handlers, forwarded headers, permissions and the custom type names."""
    handler = (url.rstrip("/") if url else "{{" + HANDLER_ENV + "}}") + "/hasura/actions"
    rename = Renamer(action_prefix(prefix))
    types = _Types()
    entries: list[dict[str, Any]] = []
    for action in action_fields():
        definition: dict[str, Any] = {"handler": handler}
        if action.operation == "query":
            definition["type"] = "query"
        else:
            definition["kind"] = "synchronous"
        definition |= {
            "forward_client_headers": False,
            "headers": _secret_header(),
            "timeout": ACTION_TIMEOUT,
        }
        entry: dict[str, Any] = {"name": action.name, "definition": definition}
        roles = _roles(settings, action)
        if roles:
            entry["permissions"] = [{"role": role} for role in roles]
        if action.description:
            entry["comment"] = action.description
        entries.append(entry)
        for argument in action.field.args.values():
            types.add(argument.type)
        types.add(action.output)

    def names(found: dict[str, Any]) -> list[dict[str, str]]:
        return [{"name": rename.name(name)} for name in found]

    return {
        "actions": entries,
        "custom_types": {
            "enums": names(types.enums),
            "input_objects": names(types.inputs),
            "objects": names(types.objects),
            "scalars": names(types.scalars),
        },
    }


def _referenced(node: Node) -> set[str]:
    found: set[str] = set()

    class Names(Visitor):
        def enter_named_type(self, named: NamedTypeNode, *_: Any) -> None:
            found.add(named.name.value)

    visit(node, Names())
    return found


def _acting_for(node: InputValueDefinitionNode) -> bool:
    """An optional `userId` argument or input field: acting for another user (admins only)."""
    return node.name.value == ADMIN_ONLY_ARGUMENT and not isinstance(node.type, NonNullTypeNode)


def role_schema(*, admin: bool) -> str:
    """The schema (SDL, upstream type names) one role may use: everything for admins; for users
    no admin-only root field and no `userId` argument or input field, and only the types that
    are still reachable."""
    schema = strawberry_schema._schema
    hidden = {(a.operation, a.field_name) for a in action_fields() if a.admin_only and not admin}
    document: DocumentNode = parse(print_schema(schema))
    definitions: dict[str, TypeDefinitionNode] = {}
    for node in document.definitions:
        if not isinstance(node, TypeDefinitionNode):
            continue
        if isinstance(node, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            operation = {"Query": "query", "Mutation": "mutation"}.get(node.name.value)
            kept: list[FieldDefinitionNode] = []
            for field_node in node.fields or ():
                if (operation, field_node.name.value) in hidden:
                    continue
                if not admin and field_node.arguments:
                    arguments = tuple(a for a in field_node.arguments if not _acting_for(a))
                    field_node = replace(field_node, arguments=arguments)
                kept.append(field_node)
            node = replace(node, fields=tuple(kept))
        if isinstance(node, InputObjectTypeDefinitionNode) and not admin:
            inputs = tuple(f for f in node.fields or () if not _acting_for(f))
            node = replace(node, fields=inputs)
        definitions[node.name.value] = node
    reachable: set[str] = set()
    pending: list[str] = [name for name in ("Query", "Mutation") if name in definitions]
    while pending:
        name = pending.pop()
        if name in reachable or name not in definitions:
            continue
        reachable.add(name)
        node = definitions[name]
        pending.extend(_referenced(node))
        if isinstance(node, UnionTypeDefinitionNode):
            pending.extend(t.name.value for t in node.types or ())
    kept_nodes = [
        n for name, n in definitions.items() if name in reachable and not is_builtin(name)
    ]
    return print_ast(DocumentNode(definitions=tuple(kept_nodes))) + "\n"


def remote_schemas_yaml(
    settings: Settings,
    *,
    url: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    namespace: str | None = DEFAULT_NAMESPACE,
) -> list[dict[str, Any]]:
    """`remote_schemas.yaml`: the server as a remote schema, with per-role permissions."""
    definition: dict[str, Any] = (
        {"url": url.rstrip("/") + "/graphql"} if url else {"url_from_env": GRAPHQL_URL_ENV}
    )
    customization: dict[str, Any] = {"type_names": {"prefix": prefix, "mapping": {}}}
    if namespace:
        customization["root_fields_namespace"] = namespace
    definition |= {
        "headers": _secret_header(),
        "forward_client_headers": False,
        "timeout_seconds": REMOTE_TIMEOUT,
        "customization": customization,
    }
    permissions = []
    for roles, admin in ((settings.user_roles, False), (settings.admin_roles, True)):
        sdl = role_schema(admin=admin)
        permissions += [
            {"role": role, "definition": {"schema": sdl}} for role in roles if role != HASURA_ADMIN
        ]
    return [
        {
            "name": REMOTE_SCHEMA_NAME,
            "definition": definition,
            "permissions": permissions,
            "comment": "graphql-payments: payments, credits, escrow and refunds",
        }
    ]


class _Literal(str):
    """A string YAML writes as a block (`|`), for SDL."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _blocks(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _blocks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blocks(v) for v in value]
    if isinstance(value, str) and "\n" in value:
        return _Literal(value)
    return value


def dump(value: Any) -> str:
    return yaml.dump(_blocks(value), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def files(
    settings: Settings,
    *,
    url: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    namespace: str | None = DEFAULT_NAMESPACE,
) -> dict[str, str]:
    """The metadata files by name: actions.graphql, actions.yaml, remote_schemas.yaml."""
    return {
        "actions.graphql": actions_sdl(prefix),
        "actions.yaml": dump(actions_yaml(settings, url=url, prefix=prefix)),
        "remote_schemas.yaml": dump(
            remote_schemas_yaml(settings, url=url, prefix=prefix, namespace=namespace)
        ),
    }
