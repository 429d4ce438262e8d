"""The sandbox's memory: every Stripe object, the event log, timers and the current request.

Objects are kept as JSON-ready dicts of Stripe's own shape, grouped by their `object` name
(`"payment_intent"`, `"checkout.session"`, ...) in creation order. Facts Stripe does not show
(a card's full test number, which Checkout Session a PaymentIntent belongs to) live in
`State.notes`, keyed by object id.

Each state change records an event of Stripe's shape (`evt_...`, `data.object` snapshot,
`data.previous_attributes`, `request.id` / `request.idempotency_key` of the API call that caused
it) and hands it to the publisher, which delivers it to webhook endpoints.
"""

from __future__ import annotations

import contextlib
import copy
import heapq
import itertools
import secrets
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from graphql_payments.sandbox.clock import Clock
from graphql_payments.sandbox.errors import JSON, SandboxError, invalid, not_found

# The API version whose shapes the sandbox serves; stripe-python 16.x pins versions of this
# release ("endive"), which is why pyproject.toml allows only that major version of the SDK.
API_VERSION = "2026-10-28.endive"
API_RELEASE = API_VERSION.rpartition(".")[2]

PREFIXES: dict[str, str] = {
    "customer": "cus",
    "payment_method": "pm",
    "payment_intent": "pi",
    "charge": "ch",
    "refund": "re",
    "setup_intent": "seti",
    "checkout.session": "cs_test",
    "account": "acct",
    "transfer": "tr",
    "transfer_reversal": "trr",
    "dispute": "dp",
    "balance_transaction": "txn",
    "event": "evt",
    "webhook_endpoint": "we",
}

# Stripe's names for objects in "No such ..." messages.
DISPLAY_NAMES: dict[str, str] = {
    "customer": "customer",
    "payment_method": "PaymentMethod",
    "payment_intent": "payment_intent",
    "charge": "charge",
    "refund": "refund",
    "setup_intent": "setupintent",
    "checkout.session": "checkout.session",
    "account": "account",
    "transfer": "transfer",
    "transfer_reversal": "transfer reversal",
    "dispute": "dispute",
    "balance_transaction": "balance transaction",
    "event": "event",
    "webhook_endpoint": "webhook endpoint",
}

# Lists Stripe shows inside an object: its kind -> (field, kind listed, the listed objects'
# field naming it, list URL).
EMBEDDED_LISTS: dict[str, tuple[str, str, str, str]] = {
    "charge": ("refunds", "refund", "charge", "/v1/charges/{id}/refunds"),
    "transfer": ("reversals", "transfer_reversal", "transfer", "/v1/transfers/{id}/reversals"),
}

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    if prefix == "cs_test":
        return "cs_test_a1" + random_token(56)
    return f"{prefix}_{random_token(length)}"


def client_secret(object_id: str) -> str:
    return f"{object_id}_secret_{random_token(25)}"


class Publisher(Protocol):
    """Where events go once recorded (the webhook dispatcher)."""

    def recipients(self, event_type: str) -> int: ...

    def publish(self, event: JSON) -> None: ...


@dataclass(frozen=True)
class RequestInfo:
    id: str | None
    idempotency_key: str | None


def diff(before: Any, after: Any) -> Any:
    """Previous values of what changed; nested dicts keep only their changed keys."""
    if isinstance(before, dict) and isinstance(after, dict):
        changed: JSON = {}
        for key, old in before.items():
            if key not in after:
                changed[key] = old
                continue
            new = after[key]
            if old == new:
                continue
            if isinstance(old, dict) and isinstance(new, dict):
                changed[key] = diff(old, new)
            else:
                changed[key] = old
        for key in after:
            if key not in before:
                changed[key] = None
        return changed
    return before


class State:
    """Objects, private notes, events and timers of one sandbox."""

    def __init__(self, *, clock: Clock, public_url: str, publisher: Publisher) -> None:
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.publisher = publisher
        self.objects: dict[str, dict[str, JSON]] = {}
        self.notes: dict[str, JSON] = {}
        self.events: list[JSON] = []
        self._timers: list[tuple[int, int, str, str]] = []
        self._sequence = itertools.count()
        self.request = RequestInfo(None, None)
        self.async_payment_delay = 180

    def reset(self) -> None:
        self.objects.clear()
        self.notes.clear()
        self.events.clear()
        self._timers.clear()
        self.request = RequestInfo(None, None)

    # -- objects ---------------------------------------------------------------------------

    def now(self) -> int:
        return self.clock.now()

    def add(self, obj: JSON, *, note: JSON | None = None) -> JSON:
        self.objects.setdefault(obj["object"], {})[obj["id"]] = obj
        self.notes[obj["id"]] = dict(note or {})
        return obj

    def get(self, kind: str, object_id: str, *, param: str = "id") -> JSON:
        found = self.objects.get(kind, {}).get(object_id)
        if found is None:
            raise not_found(DISPLAY_NAMES.get(kind, kind), object_id, param=param)
        return found

    def maybe(self, kind: str, object_id: str | None) -> JSON | None:
        if object_id is None:
            return None
        return self.objects.get(kind, {}).get(object_id)

    def find(self, object_id: str) -> JSON | None:
        """Any stored object by id, whatever its kind."""
        for kind, prefix in sorted(PREFIXES.items(), key=lambda item: -len(item[1])):
            if object_id.startswith(prefix + "_"):
                return self.objects.get(kind, {}).get(object_id)
        return None

    def note(self, object_id: str) -> JSON:
        return self.notes.setdefault(object_id, {})

    def all(self, kind: str) -> list[JSON]:
        """Objects of a kind, oldest first."""
        return list(self.objects.get(kind, {}).values())

    def render(self, obj: JSON) -> JSON:
        """A detached copy of an object as the API shows it."""
        shown = copy.deepcopy(obj)
        embedded = EMBEDDED_LISTS.get(obj["object"])
        if embedded is not None:
            key, kind, link, url = embedded
            children = [
                self.render(child) for child in reversed(self.all(kind)) if child[link] == obj["id"]
            ]
            shown[key] = list_envelope(children, url.format(id=obj["id"]))
        return shown

    # -- events ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def requesting(self, request_id: str | None, idempotency_key: str | None) -> Iterator[None]:
        """Attribute the events recorded inside the block to an API request."""
        previous = self.request
        self.request = RequestInfo(request_id, idempotency_key)
        try:
            yield
        finally:
            self.request = previous

    def emit(self, event_type: str, obj: JSON, *, before: JSON | None = None) -> JSON:
        """Record an event about `obj` (as it is now) and hand it to the publisher."""
        data: JSON = {"object": self.render(obj)}
        if before is not None:
            previous = diff(before, obj)
            data["previous_attributes"] = copy.deepcopy(previous)
        event: JSON = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": self.publisher.recipients(event_type),
            "request": {"id": self.request.id, "idempotency_key": self.request.idempotency_key},
            "type": event_type,
        }
        self.events.append(event)
        self.objects.setdefault("event", {})[event["id"]] = event
        self.publisher.publish(event)
        return event

    # -- timers ----------------------------------------------------------------------------

    def schedule(self, due: int, action: str, object_id: str) -> None:
        heapq.heappush(self._timers, (due, next(self._sequence), action, object_id))

    def due(self) -> list[tuple[str, str]]:
        """Pop the timers whose time has come, earliest first."""
        now = self.now()
        fired: list[tuple[str, str]] = []
        while self._timers and self._timers[0][0] <= now:
            _, _, action, object_id = heapq.heappop(self._timers)
            fired.append((action, object_id))
        return fired


def net_captured(charge: JSON) -> int:
    """The captured money a charge still holds: Stripe counts the uncaptured remainder of a
    partial capture in `amount_refunded`, so this is `amount - amount_refunded` once captured."""
    if not charge["captured"]:
        return 0
    return int(charge["amount"] - charge["amount_refunded"])


def snapshot(obj: JSON) -> JSON:
    return copy.deepcopy(obj)


def list_envelope(data: list[JSON], url: str, *, has_more: bool = False) -> JSON:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def _matches_created(created: int, condition: Any) -> bool:
    if isinstance(condition, int):
        return created == condition
    if isinstance(condition, dict):
        checks: dict[str, Callable[[int, int], bool]] = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
        }
        return all(checks[op](created, int(value)) for op, value in condition.items())
    return True


def paginate(
    state: State,
    objects: Iterable[JSON],
    params: JSON,
    url: str,
) -> JSON:
    """Stripe's list envelope over `objects` (oldest first in, newest first out)."""
    items = list(reversed(list(objects)))
    if "created" in params:
        items = [item for item in items if _matches_created(item["created"], params["created"])]
    limit = params.get("limit", 10)
    if not 1 <= limit <= 100:
        raise invalid(
            "Invalid limit: must be between 1 and 100",
            param="limit",
            code="parameter_invalid_integer",
        )
    ids = [item["id"] for item in items]
    if params.get("starting_after"):
        cursor = params["starting_after"]
        if cursor not in ids:
            raise _bad_cursor(state, cursor, "starting_after")
        items = items[ids.index(cursor) + 1 :]
        page = items[:limit]
        has_more = len(items) > limit
    elif params.get("ending_before"):
        cursor = params["ending_before"]
        if cursor not in ids:
            raise _bad_cursor(state, cursor, "ending_before")
        items = items[: ids.index(cursor)]
        page = items[-limit:]
        has_more = len(items) > limit
    else:
        page = items[:limit]
        has_more = len(items) > limit
    return list_envelope([state.render(item) for item in page], url, has_more=has_more)


def _bad_cursor(state: State, cursor: str, param: str) -> SandboxError:
    found = state.find(cursor)
    kind = "object"
    if found is not None:
        kind = DISPLAY_NAMES.get(found["object"], str(found["object"]))
    return not_found(kind, cursor, param=param)


MAX_METADATA_KEYS = 50


def apply_metadata(current: dict[str, str], update: Any, *, param: str = "metadata") -> None:
    """Merge a metadata update the way Stripe does: `""` clears, a `""` value removes a key.

    Nothing changes when the update breaks a limit (50 keys, 40-character keys, 500-character
    values).
    """
    if update == "":
        current.clear()
        return
    if not isinstance(update, dict):
        raise invalid("Invalid metadata: must be a set of key-value pairs", param=param)
    merged = dict(current)
    for key, value in update.items():
        if len(key) > 40:
            raise invalid(
                f"Metadata keys can have up to 40 characters; '{key}' has {len(key)}.",
                param=f"{param}[{key}]",
            )
        if value == "":
            merged.pop(key, None)
            continue
        if not isinstance(value, str):
            raise invalid(f"Invalid value for {param}[{key}]", param=f"{param}[{key}]")
        if len(value) > 500:
            raise invalid("Metadata values can have up to 500 characters.", param=f"{param}[{key}]")
        merged[key] = value
    if len(merged) > MAX_METADATA_KEYS:
        raise invalid(f"Metadata can have up to {MAX_METADATA_KEYS} keys.", param=param)
    current.clear()
    current.update(merged)


def new_metadata(update: Any, *, param: str = "metadata") -> dict[str, str]:
    metadata: dict[str, str] = {}
    if update is not None:
        apply_metadata(metadata, update, param=param)
    return metadata


def update_object(
    state: State,
    obj: JSON,
    params: JSON,
    *events: str,
    fields: Iterable[str] = (),
    also: Callable[[JSON, JSON], None] | None = None,
) -> JSON:
    """Stripe's update of an object: `metadata`, then each of `fields` (`""` clears it), then
    `also(obj, params)` for the rest; when anything changed, each of `events` is emitted.

    An invalid metadata update leaves the object as it was.
    """
    before = snapshot(obj)
    metadata = dict(obj["metadata"])
    if "metadata" in params:
        apply_metadata(metadata, params["metadata"])
    obj["metadata"] = metadata
    for key in fields:
        if key in params:
            obj[key] = params[key] or None
    if also is not None:
        also(obj, params)
    if obj != before:
        for event_type in events:
            state.emit(event_type, obj, before=before)
    return obj
