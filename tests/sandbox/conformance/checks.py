"""Checks of sandbox answers against Stripe's OpenAPI description and current example objects.

`stripe_schemas.json`, `stripe_fixture_fields.json` and `LICENSE` come from Stripe's published
OpenAPI repository through `extract.py` (see there). A body is checked three ways:

- valid against the schema of its operation (an error body against `error`; an event against
  `event` and its `data.object` against its own object's schema), with OpenAPI 3.0 semantics
  (`nullable`, expandable `anyOf` of an id or the object);
- every field of Stripe's current example object is present (where its parent is);
- no field that neither the description, nor the current example object, nor stripe-python's
  typed resource (the current API as the SDK pins it) has.

The description is a 2020-08-27 snapshot and the sandbox serves a newer API version, so the
few changes Stripe made since then to the fields the sandbox serves are applied to the schemas
first (`API_CHANGES`); fields added since are known from the example objects and the SDK.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import stripe
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30Validator
from stripe._object_classes import get_object_class

HERE = Path(__file__).resolve().parent
JSON = dict[str, Any]

# Maps whose keys are data, not fields (an account's `capabilities` holds the requested ones).
MAPS = frozenset({"metadata", "capabilities_requested", "capabilities"})

# What Stripe changed after the snapshot, in the fields the sandbox serves: fields that became
# nullable (the current example objects and stripe-python's types show them as null/Optional).
API_CHANGES: dict[str, dict[str, list[str]]] = {
    # `cancel_url` became optional when Checkout gained embedded and custom UIs.
    "checkout.session": {"nullable": ["cancel_url"]},
    "account_bacs_debit_payments_settings": {"nullable": ["display_name"]},
}


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` made explicit where the validator does not apply it
    (an `enum`, an `anyOf` of an id or an expanded object)."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    if node.get("nullable") is True:
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        if "anyOf" in node:
            node["anyOf"] = [*node["anyOf"], {"enum": [None]}]
    return node


@cache
def spec() -> JSON:
    data: JSON = json.loads((HERE / "stripe_schemas.json").read_text("utf-8"))
    schemas = data["components"]["schemas"]
    for name, change in API_CHANGES.items():
        for key in change["nullable"]:
            schemas[name]["properties"][key]["nullable"] = True
    result: JSON = _nullable(data)
    return result


@cache
def fixture_fields() -> dict[str, frozenset[str]]:
    data = json.loads((HERE / "stripe_fixture_fields.json").read_text("utf-8"))
    return {name: frozenset(paths) for name, paths in data.items()}


def _resolve(schema: JSON) -> JSON:
    while "$ref" in schema:
        schema = spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _is_object_holder(schema: JSON) -> bool:
    """A schema of something with its own `object` field (a resource or a list)."""
    return "object" in schema.get("properties", {})


def _spec_paths(schema: JSON, prefix: str, found: set[str], depth: int = 0) -> None:
    schema = _resolve(schema)
    for branch in schema.get("anyOf", []) + schema.get("allOf", []) + schema.get("oneOf", []):
        _spec_paths(branch, prefix, found, depth)
    for key, value in schema.get("properties", {}).items():
        path = prefix + key
        found.add(path)
        inner = _resolve(value)
        if key in MAPS or depth > 8:
            continue
        holders = [inner, *(_resolve(b) for b in inner.get("anyOf", []))]
        if any(_is_object_holder(h) for h in holders):
            continue
        _spec_paths(inner, path + ".", found, depth + 1)


def _classes(annotation: Any) -> Iterator[type]:
    if isinstance(annotation, type):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _classes(argument)


def _sdk_paths(cls: type, prefix: str, depth: int = 0) -> set[str]:
    """Fields of an SDK resource class and of the classes nested in it (not other resources)."""
    found: set[str] = set()
    resource = cls.__qualname__.split(".")[0] + "."
    for klass in reversed(cls.__mro__):
        for key, annotation in vars(klass).get("__annotations__", {}).items():
            if key.startswith("_") or key.isupper():
                continue
            found.add(prefix + key)
            if key in MAPS or depth > 8:
                continue
            for target in _classes(annotation):
                if (
                    issubclass(target, stripe.StripeObject)
                    and target.__qualname__.startswith(resource)
                    and not getattr(target, "OBJECT_NAME", None)
                ):
                    found |= _sdk_paths(target, prefix + key + ".", depth + 1)
    return found


@cache
def sdk_fields(name: str) -> frozenset[str]:
    """The fields stripe-python's typed resource of `name` declares (the SDK's API version)."""
    return frozenset(_sdk_paths(get_object_class("V1", name), ""))


@cache
def spec_fields(name: str) -> frozenset[str]:
    found: set[str] = set()
    _spec_paths(spec()["components"]["schemas"][name], "", found)
    return frozenset(found)


def body_paths(obj: JSON, prefix: str = "") -> list[str]:
    """Dotted paths of the fields of an object, not entering maps, lists or nested objects."""
    paths: list[str] = []
    for key, value in obj.items():
        path = prefix + key
        paths.append(path)
        if isinstance(value, dict) and key not in MAPS and "object" not in value:
            paths.extend(body_paths(value, path + "."))
    return paths


def nested_objects(node: Any) -> list[JSON]:
    """Every Stripe object inside `node` (itself included), by their `object` field."""
    found: list[JSON] = []
    if isinstance(node, dict):
        if isinstance(node.get("object"), str):
            found.append(node)
        for key, value in node.items():
            if key not in MAPS:
                found.extend(nested_objects(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(nested_objects(item))
    return found


@dataclass
class Report:
    """What was checked, and every difference found."""

    bodies: int = 0
    valid: int = 0
    objects: int = 0
    fields_checked: int = 0
    kinds: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def schema_errors(self, body: JSON, schema: JSON, where: str) -> None:
        document = {**schema, "components": spec()["components"]}
        validator = OAS30Validator(document)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        self.bodies += 1
        if not errors:
            self.valid += 1
        for error in errors[:10]:
            error = best_match([error, *error.context]) if error.context else error
            at = ".".join(str(p) for p in error.absolute_path)
            self.problems.append(f"{where}: invalid at {at or '(body)'}: {error.message[:200]}")

    def fields(self, obj: JSON, where: str) -> None:
        kind = obj["object"]
        if kind not in fixture_fields():
            return
        self.objects += 1
        self.kinds.add(kind)
        ours = set(body_paths(obj))
        known = spec_fields(kind) | fixture_fields()[kind] | sdk_fields(kind)
        for path in sorted(ours - known):
            self.problems.append(f"{where}: {kind}.{path} is not a field Stripe has")
        expected = fixture_fields()[kind]
        for path in sorted(expected):
            parent, _, key = path.rpartition(".")
            self.fields_checked += 1
            if path in ours or (parent and not _dict_at(obj, parent)):
                continue
            if _other_variant(obj, parent, key, expected):
                continue
            self.problems.append(f"{where}: {kind}.{path} is missing")

    def response(self, operation: str, status: int, body: JSON) -> None:
        where = f"{operation} -> {status}"
        if status >= 400:
            self.schema_errors(body, {"$ref": "#/components/schemas/error"}, where)
            for obj in nested_objects(body["error"]):
                self.fields(obj, where)
            return
        self.schema_errors(body, spec()["responses"][operation], where)
        for obj in nested_objects(body):
            self.fields(obj, where)

    def event(self, event: JSON) -> None:
        where = f"event {event['type']}"
        self.schema_errors(event, {"$ref": "#/components/schemas/event"}, where)
        obj = event["data"]["object"]
        self.schema_errors(obj, {"$ref": f"#/components/schemas/{obj['object']}"}, where)
        for found in nested_objects(obj):
            self.fields(found, where)


def _node(obj: JSON, path: str) -> Any:
    node: Any = obj
    for key in path.split(".") if path else []:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _other_variant(obj: JSON, parent: str, key: str, expected: frozenset[str]) -> bool:
    """Whether `parent.key` is the details of another `type` than ours (a card's details where
    ours is a SEPA debit: Stripe's example shows one type, a response holds its own)."""
    prefix = f"{parent}." if parent else ""
    ours = _node(obj, parent)
    return (
        isinstance(ours, dict)
        and isinstance(ours.get("type"), str)
        and ours["type"] != key
        and f"{prefix}type" in expected
        and any(path.startswith(f"{prefix}{key}.") for path in expected)
    )


def _dict_at(obj: JSON, path: str) -> bool:
    node: Any = obj
    for key in path.split("."):
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            return False
        node = node[key]
    return "object" not in node
