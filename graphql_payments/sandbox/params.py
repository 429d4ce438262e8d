"""Request parameters: Stripe's form encoding in, checked Python values out.

The Stripe API takes `application/x-www-form-urlencoded` bodies (and query strings for GET)
with bracketed keys: `metadata[order]=7`, `line_items[0][price_data][currency]=usd`,
`expand[]=latest_charge`. `parse_form` turns those pairs into nested dicts.

`validate` then checks the nested value against the parameter description the installed
`stripe` SDK ships for that endpoint (`stripe.params.PaymentIntentCreateParams`, ...), and
answers the way Stripe does when something is off:

- a key the endpoint does not know: 400 `parameter_unknown`, with the full `param` path
  (`payment_intent_data[foo]`) and a suggestion when a known key is close;
- a required key missing: 400 `parameter_missing`;
- `amount=abc`: 400 `parameter_invalid_integer`; `confirm=maybe`: "Invalid boolean";
- an enum value the API does not list: 400 naming the allowed values;
- an empty string where a value cannot be unset: 400 `parameter_invalid_empty`.

Valid values come back typed: ints, bools, lists (from `[0]`/`[]` keys), dicts, and `""` where
Stripe accepts an empty string to unset a field. `metadata` is a free-form string map.
"""

from __future__ import annotations

import builtins
import difflib
import functools
import sys
import types
import typing
from decimal import Decimal, InvalidOperation
from typing import Any

import typing_extensions

from graphql_payments.sandbox.errors import SandboxError

Node = str | dict[str, "Node"]

# Keys of the SDK's RequestOptions: client options, never sent as API parameters.
REQUEST_OPTION_KEYS = frozenset(
    {
        "api_key",
        "stripe_version",
        "stripe_account",
        "stripe_context",
        "max_network_retries",
        "idempotency_key",
        "content_type",
        "headers",
    }
)


def _split_key(key: str) -> list[str]:
    """`a[b][0][]` -> `["a", "b", "0", ""]`."""
    head, bracket, rest = key.partition("[")
    parts = [head]
    if not bracket:
        return parts
    rest = "[" + rest
    while rest:
        if not rest.startswith("["):
            raise SandboxError(f"Invalid parameter name: {key}", param=key)
        close = rest.find("]")
        if close < 0:
            raise SandboxError(f"Invalid parameter name: {key}", param=key)
        parts.append(rest[1:close])
        rest = rest[close + 1 :]
    return parts


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Node]:
    """Nest bracketed form keys. `[]` appends to the list at that position."""
    root: dict[str, Node] = {}
    for key, value in pairs:
        parts = _split_key(key)
        if not parts[0]:
            raise SandboxError(f"Invalid parameter name: {key}", param=key)
        node = root
        for index, part in enumerate(parts):
            name = str(len(node)) if part == "" else part
            last = index == len(parts) - 1
            if last:
                if isinstance(node.get(name), dict):
                    raise SandboxError(
                        f"Invalid parameter: {key} is both a value and a hash", param=key
                    )
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise SandboxError(
                        f"Invalid parameter: {key} is both a value and a hash", param=key
                    )
                node = child
    return root


class _Namespace(dict[str, Any]):
    """Names for evaluating the SDK's string annotations; unknown names become `Dict`."""

    def __init__(self, module_globals: dict[str, Any]) -> None:
        super().__init__()
        self._globals = module_globals

    def __missing__(self, name: str) -> Any:
        if name in self._globals:
            return self._globals[name]
        if hasattr(builtins, name):
            return getattr(builtins, name)
        return typing.Dict  # noqa: UP006 - must stay subscriptable inside annotations


@functools.cache
def _fields(schema: type) -> dict[str, Any]:
    module = sys.modules[schema.__module__]
    hints = typing.get_type_hints(schema, localns=_Namespace(vars(module)))
    return {name: hint for name, hint in hints.items() if name not in REQUEST_OPTION_KEYS}


def _required(schema: type) -> frozenset[str]:
    keys: frozenset[str] = getattr(schema, "__required_keys__", frozenset())
    return keys - REQUEST_OPTION_KEYS


def _path(parent: str, key: str) -> str:
    return f"{parent}[{key}]" if parent else key


def _leaf(path: str) -> str:
    return path.rsplit("[", 1)[-1].rstrip("]")


def _join_choices(choices: list[str]) -> str:
    if len(choices) <= 1:
        return "".join(choices)
    return ", ".join(choices[:-1]) + f", or {choices[-1]}"


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_map(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    if origin in (dict, typing.Dict):  # noqa: UP006
        return True
    return getattr(origin, "__name__", "") in {"UntypedStripeObject", "Mapping"}


def _is_list(tp: Any) -> bool:
    return (typing.get_origin(tp) or tp) in (list, typing.List)  # noqa: UP006


def _flatten(tp: Any) -> list[Any]:
    if _is_union(tp):
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out.extend(_flatten(arg))
        return out
    return [tp]


def _empty_error(path: str) -> SandboxError:
    return SandboxError(
        f"You passed an empty string for '{path}', but '{path}' cannot be unset. "
        f"Leave '{path}' out of the request or give it a value.",
        param=path,
        code="parameter_invalid_empty",
    )


def _parse_int(value: str) -> int | None:
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return None


def _parse_decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _coerce(node: Node, tp: Any, path: str) -> Any:
    if tp is Any or tp is object or tp is type(None):
        return node
    alternatives = _flatten(tp)
    literals: list[Any] = []
    scalars: set[Any] = set()
    typed_dicts: list[type] = []
    lists: list[Any] = []
    maps: list[Any] = []
    for alt in alternatives:
        if typing.get_origin(alt) in (typing.Literal, typing_extensions.Literal):
            literals.extend(typing.get_args(alt))
        elif typing_extensions.is_typeddict(alt):
            typed_dicts.append(alt)
        elif _is_list(alt):
            lists.append(alt)
        elif _is_map(alt):
            maps.append(alt)
        elif alt in (str, int, bool, float, Decimal):
            scalars.add(alt)
        elif alt is type(None):
            continue
        else:
            return node
    if isinstance(node, str):
        return _coerce_text(node, path, literals, scalars, bool(typed_dicts or lists or maps))
    return _coerce_hash(node, path, typed_dicts, lists, maps)


def _coerce_text(
    value: str, path: str, literals: list[Any], scalars: set[Any], containers: bool
) -> Any:
    named = [item for item in literals if isinstance(item, str) and item != ""]
    if value == "":
        if "" in literals:
            return ""
        raise _empty_error(path)
    if value in named:
        return value
    boolean = bool in scalars or True in literals or False in literals
    if boolean and value in ("true", "false"):
        return value == "true"
    if int in scalars:
        number = _parse_int(value)
        if number is not None:
            return number
    if float in scalars or Decimal in scalars:
        decimal = _parse_decimal(value)
        if decimal is not None:
            return float(decimal) if float in scalars else decimal
    if str in scalars and not named:
        return value
    if named:
        raise SandboxError(
            f"Invalid {_leaf(path)}: must be one of {_join_choices(named)}", param=path
        )
    if int in scalars:
        raise SandboxError(
            f"Invalid integer: {value}", param=path, code="parameter_invalid_integer"
        )
    if bool in scalars:
        raise SandboxError(f"Invalid boolean: {value}", param=path)
    if float in scalars or Decimal in scalars:
        raise SandboxError(f"Invalid decimal: {value}", param=path)
    if containers:
        raise SandboxError(f"Invalid object: {path} must be a hash or an array", param=path)
    return value


def _coerce_hash(
    node: dict[str, Node],
    path: str,
    typed_dicts: list[type],
    lists: list[Any],
    maps: list[Any],
) -> Any:
    if lists and node and all(key.isdigit() for key in node):
        item_type = (typing.get_args(lists[0]) or (Any,))[0]
        ordered = sorted(node.items(), key=lambda item: int(item[0]))
        return [_coerce(value, item_type, _path(path, key)) for key, value in ordered]
    if lists and not node:
        return []
    if typed_dicts:
        first_error: SandboxError | None = None
        for schema in typed_dicts:
            try:
                return _validate_fields(node, schema, path)
            except SandboxError as error:
                first_error = first_error or error
        assert first_error is not None
        raise first_error
    if maps:
        args = typing.get_args(maps[0])
        value_type = args[-1] if args else Any
        # A map entry set to "" is removed (Stripe's way to unset one metadata key).
        return {
            key: "" if value == "" else _coerce(value, value_type, _path(path, key))
            for key, value in node.items()
        }
    if lists:
        raise SandboxError(f"Invalid array: {path} must be an array", param=path)
    raise SandboxError(f"Invalid {_leaf(path)}: expected a value, not a hash", param=path)


def _validate_fields(node: dict[str, Node], schema: type, path: str) -> dict[str, Any]:
    fields = _fields(schema)
    out: dict[str, Any] = {}
    for key, value in node.items():
        key_path = _path(path, key)
        if key not in fields:
            message = f"Received unknown parameter: {key_path}"
            close = difflib.get_close_matches(key, list(fields), n=1)
            if close:
                message += f". Did you mean {close[0]}?"
            raise SandboxError(message, param=key_path, code="parameter_unknown")
        out[key] = _coerce(value, fields[key], key_path)
    for key in sorted(_required(schema)):
        if key not in node:
            key_path = _path(path, key)
            raise SandboxError(
                f"Missing required param: {key_path}.",
                param=key_path,
                code="parameter_missing",
            )
    return out


def validate(params: dict[str, Node], schema: type) -> dict[str, Any]:
    """Check `params` against an SDK parameter TypedDict; raise SandboxError like Stripe."""
    return _validate_fields(params, schema, "")


def schema_keys(schema: type) -> frozenset[str]:
    """Top-level parameter names of an SDK parameter TypedDict."""
    return frozenset(_fields(schema))
