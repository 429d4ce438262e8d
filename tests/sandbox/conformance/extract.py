"""Extract the part of Stripe's OpenAPI description and example objects the conformance test needs.

Run from the repository root with Stripe's published files (github.com/stripe/openapi,
MIT licence)::

    python tests/sandbox/conformance/extract.py spec3.json.gz fixtures3.json LICENSE

It writes, next to this script, and nothing else:

- `stripe_schemas.json`: the response schemas of the operations the gateway calls, and of the
  objects the sandbox's webhook events carry, with every component they reach. Descriptions
  are dropped. An expandable field (`anyOf: [id string, object]`) keeps its object branch only
  when that object is one of `OBJECTS`; otherwise the branch becomes a bare `object` (we never
  expand it), which keeps the file small.
- `stripe_fixture_fields.json`: for each object of `OBJECTS`, the dotted paths of every field
  in Stripe's current example object (`fixtures3.json`), descending into nested objects but
  not into maps (`metadata`, an account's `capabilities`) or lists.
- `LICENSE`: Stripe's MIT licence for the extracted material.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# Response schemas by operation: (method, Stripe's path template).
OPERATIONS = [
    ("post", "/v1/customers"),
    ("get", "/v1/customers/{customer}"),
    ("post", "/v1/customers/{customer}"),
    ("get", "/v1/setup_intents/{intent}"),
    ("get", "/v1/payment_methods/{payment_method}"),
    ("post", "/v1/payment_methods/{payment_method}/detach"),
    ("post", "/v1/payment_intents/{intent}/confirm"),
    ("post", "/v1/checkout/sessions"),
    ("get", "/v1/checkout/sessions/{session}"),
    ("post", "/v1/payment_intents"),
    ("get", "/v1/payment_intents/{intent}"),
    ("post", "/v1/payment_intents/{intent}/capture"),
    ("post", "/v1/payment_intents/{intent}/cancel"),
    ("get", "/v1/accounts/{account}"),
    ("post", "/v1/accounts"),
    ("post", "/v1/transfers"),
    ("get", "/v1/transfers/{transfer}"),
    ("post", "/v1/transfers/{id}/reversals"),
    ("post", "/v1/refunds"),
    ("get", "/v1/refunds"),
]

# Objects the responses and the sandbox's events carry.
OBJECTS = [
    "account",
    "charge",
    "checkout.session",
    "customer",
    "dispute",
    "payment_intent",
    "payment_method",
    "refund",
    "setup_intent",
    "transfer",
    "transfer_reversal",
]

ROOTS = [*OBJECTS, "event", "error"]

# Maps of free keys: their keys are data, not fields.
MAPS = {"metadata", "capabilities_requested", "capabilities"}


def _strip(node: Any) -> Any:
    """The schema without documentation, with unkept expansion branches made bare objects."""
    if isinstance(node, list):
        return [_strip(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "anyOf" in node and "x-expansionResources" in node:
        branches = []
        for branch in node["anyOf"]:
            name = branch.get("$ref", "").rsplit("/", 1)[-1]
            if "$ref" in branch and name not in OBJECTS:
                branch = {"type": "object"}
            branches.append(_strip(branch))
        node = {**node, "anyOf": branches}
    return {
        key: _strip(value)
        for key, value in node.items()
        if key not in ("description", "x-expansionResources", "x-stripeResource", "example")
        and not (key == "title" and isinstance(value, str))
    }


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                found.add(value.rsplit("/", 1)[-1])
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for item in node:
            _refs(item, found)


def schemas(spec: dict[str, Any]) -> dict[str, Any]:
    components = spec["components"]["schemas"]
    responses: dict[str, Any] = {}
    for method, path in OPERATIONS:
        operation = spec["paths"][path][method]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        responses[f"{method.upper()} {path}"] = _strip(schema)
    kept: dict[str, Any] = {}
    found: set[str] = set()
    _refs(responses, found)
    todo = [*ROOTS, *found]
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        kept[name] = _strip(components[name])
        found = set()
        _refs(kept[name], found)
        todo.extend(found - kept.keys())
    return {
        "info": {"version": spec["info"]["version"], "source": "github.com/stripe/openapi"},
        "responses": responses,
        "components": {"schemas": dict(sorted(kept.items()))},
    }


def field_paths(obj: dict[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for key, value in obj.items():
        path = f"{prefix}{key}"
        paths.append(path)
        if isinstance(value, dict) and key not in MAPS:
            paths.extend(field_paths(value, path + "."))
    return paths


def fixture_fields(fixtures: dict[str, Any]) -> dict[str, list[str]]:
    resources = fixtures["resources"]
    return {name: sorted(field_paths(resources[name])) for name in OBJECTS}


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit("usage: extract.py SPEC3_JSON_GZ FIXTURES3_JSON LICENSE")
    spec_path, fixtures_path, licence_path = (Path(arg) for arg in argv)
    opener = gzip.open if spec_path.suffix == ".gz" else open
    with opener(spec_path, "rt", encoding="utf-8") as file:
        spec = json.load(file)
    fixtures = json.loads(fixtures_path.read_text(encoding="utf-8"))
    for name, data in (
        ("stripe_schemas.json", schemas(spec)),
        ("stripe_fixture_fields.json", fixture_fields(fixtures)),
    ):
        (HERE / name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", "utf-8")
    shutil.copyfile(licence_path, HERE / "LICENSE")


if __name__ == "__main__":
    main(sys.argv[1:])
