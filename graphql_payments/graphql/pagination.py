"""Relay-style keyset connections: edges, cursors, pageInfo and totalCount, at most 100."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import TYPE_CHECKING, Generic, TypeVar

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from graphql_payments.graphql.errors import client_error
from graphql_payments.graphql.scalars import parse_datetime

if TYPE_CHECKING:  # the context's module imports this one
    from graphql_payments.graphql.context import Info

T = TypeVar("T")

MAX_FIRST = 100
DEFAULT_FIRST = 20


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int


def connection(edges: list[Edge[T]], *, has_next: bool, total: int) -> Connection[T]:
    """One page of a keyset connection: `edges` in order, whether more follow, how many in all."""
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
        total_count=total,
    )


# (operation, path of the connection field) -> (the operation, kept alive so its id stays its
# own; the fields selected on its nodes)
_NODE_FIELDS: dict[tuple[int, tuple[str | int, ...]], tuple[object, frozenset[str]]] = {}
MAX_NODE_FIELDS = 4096


def node_fields(info: Info) -> frozenset[str]:
    """The names of the fields a connection's query selects on its nodes (`edges { node }`),
    through fragments and whatever their directives say (a field that may be skipped counts).
    Worked out once per operation and field (the document caches keep operations alive)."""
    key = (id(info.operation), tuple(info.path.as_list()))
    found = _NODE_FIELDS.get(key)
    if found is None:
        connections = [s for field in info.selected_fields for s in field.selections]
        names = frozenset(_names(_below(_below(connections, "edges"), "node")))
        if len(_NODE_FIELDS) >= MAX_NODE_FIELDS:
            _NODE_FIELDS.clear()
        found = _NODE_FIELDS[key] = (info.operation, names)
    return found[1]


def _below(selections: list[Selection], name: str) -> list[Selection]:
    """What every field `name` among `selections` (fragments included) selects."""
    found: list[Selection] = []
    for selection in selections:
        if not isinstance(selection, SelectedField):
            found += _below(selection.selections, name)
        elif selection.name == name:
            found += selection.selections
    return found


def _names(selections: list[Selection]) -> set[str]:
    names: set[str] = set()
    for selection in selections:
        if isinstance(selection, SelectedField):
            names.add(selection.name)
        else:
            names |= _names(selection.selections)
    return names


def encode_cursor(created_at: dt.datetime, item_id: str) -> str:
    raw = f"{created_at.isoformat()}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, _, item_id = base64.urlsafe_b64decode(padded).decode().partition("|")
        if not item_id or len(item_id) > 255 or "\x00" in item_id:
            raise ValueError(cursor)
        if dt.datetime.fromisoformat(created).tzinfo is None:
            raise ValueError(cursor)
        return parse_datetime(created), item_id
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise client_error("Invalid cursor in 'after'.", "BAD_USER_INPUT") from None


def decode_numeric_cursor(after: str | None) -> tuple[dt.datetime, int] | None:
    """The cursor of a row with an integer id (a BIGINT: at most 18 digits), None for none."""
    if not after:
        return None
    moment, raw_id = decode_cursor(after)
    if not raw_id.isdigit() or len(raw_id) > 18:
        raise client_error("Invalid cursor in 'after'.", "BAD_USER_INPUT")
    return moment, int(raw_id)


def clamp_first(first: int | None) -> int:
    if first is None:
        return DEFAULT_FIRST
    if first < 0:
        raise client_error("'first' must not be negative.", "BAD_USER_INPUT")
    return min(first, MAX_FIRST)
