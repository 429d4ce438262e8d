"""Idempotent requests, as Stripe handles them.

A POST with an `Idempotency-Key` header stores its answer (status and body) once the request
started executing, whether it succeeded or failed (a card decline is replayed as a decline).
The same key with the same method, path and parameters replays that answer with
`Idempotent-Replayed: true`; with anything different it fails with 400 `idempotency_error`
(`stripe.IdempotencyError`). Requests rejected before executing (invalid parameters, bad API
key, an injected 5xx) store nothing, so retrying them with the same key runs them for real.
Keys are scoped to the API key and forgotten after 24 hours of sandbox time.

While a request with a key is still executing (its injected latency counts as execution), a
second request with the same key answers 409 `idempotency_error` (code
`idempotency_key_in_use`) at once, as Stripe does for a
key in flight; the SDK retries 409s (`max_network_retries`) and then gets the stored answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql_payments.sandbox.errors import JSON, SandboxError

RETENTION = 24 * 3600


@dataclass(frozen=True)
class StoredResponse:
    method: str
    path: str
    params: Any
    status: int
    body: JSON
    request_id: str
    created: int


class IdempotencyStore:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], StoredResponse] = {}
        self._in_flight: set[tuple[str, str]] = set()

    def clear(self) -> None:
        self._entries.clear()

    def begin(self, api_key: str, key: str) -> None:
        """Mark a request with this key as executing; 409 when one already is."""
        if (api_key, key) in self._in_flight:
            raise SandboxError(
                "There is currently another in-progress request using this Idempotent Key "
                "(that probably means you submitted twice, and the other request is still "
                f"going through): {key}. Please try again later.",
                status=409,
                type="idempotency_error",
                code="idempotency_key_in_use",
            )
        self._in_flight.add((api_key, key))

    def end(self, api_key: str, key: str) -> None:
        self._in_flight.discard((api_key, key))

    def _prune(self, now: int) -> None:
        expired = [key for key, entry in self._entries.items() if entry.created + RETENTION < now]
        for key in expired:
            del self._entries[key]

    def lookup(
        self, api_key: str, key: str, method: str, path: str, params: Any, now: int
    ) -> StoredResponse | None:
        """The stored answer for this key, None if new; raises on a mismatched reuse."""
        self._prune(now)
        entry = self._entries.get((api_key, key))
        if entry is None:
            return None
        if entry.method != method or entry.path != path or entry.params != params:
            raise SandboxError(
                f"The idempotency key '{key}' was first used for a request with other "
                "parameters (or another endpoint); a key only replays the same request. Send "
                "a new key for a new request.",
                type="idempotency_error",
            )
        return entry

    def store(self, api_key: str, key: str, response: StoredResponse) -> None:
        self._entries[(api_key, key)] = response
