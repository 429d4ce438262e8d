"""Structured logs with request ids.

`configure(level, fmt)` sets up the root logger: one line per record, `text` (default) or
`json` (`PAYMENTS_LOG_FORMAT=json`: one JSON object per line with `time`, `level`, `logger`,
`message`, `request_id` and any extra fields). `RequestContext` is the ASGI middleware that
takes the request id from `X-Request-ID` (or makes one), returns it in the response, keeps it
in a context variable that every log line of the request (Stripe calls included) carries, and
logs one line per request with its operation, status and duration.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphql_payments import metrics

log = logging.getLogger("graphql_payments.access")

_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Attributes every LogRecord has; anything else was passed as `extra=` and is printed.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


@dataclass
class RequestInfo:
    request_id: str
    operation: str | None = None
    outcome: str | None = None


current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "payments_request", default=None
)


def request_id() -> str | None:
    info = current.get()
    return info.request_id if info is not None else None


def set_operation(name: str, outcome: str | None = None) -> None:
    """Name the operation the current request runs (and how it ended), for its log line."""
    info = current.get()
    if info is not None:
        info.operation = name
        if outcome is not None:
            info.outcome = outcome


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            body["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                body[key] = value
        if record.exc_info:
            body["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{key}={value}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_")
        ]
        rid = getattr(record, "request_id", None)
        if rid:
            extras.insert(0, f"request_id={rid}")
        return line + (" " + " ".join(extras) if extras else "")


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Log to stderr at `level`, as text or JSON lines; replaces earlier configuration."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's own access log would repeat our request line without the request id, and the
    # Stripe SDK's and httpx's lines would repeat our one line per Stripe call.
    logging.getLogger("uvicorn.access").disabled = True
    # Alembic's steps and uvicorn's start-up chatter would add to the one line a start logs.
    for chatty in ("stripe", "httpx", "httpcore", "alembic", "uvicorn.error"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


class RequestContext:
    """ASGI middleware: request id in and out, one log line and metrics per request."""

    def __init__(self, app: ASGIApp, *, quiet_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                given = value.decode("latin-1").strip()
                break
        info = RequestInfo(given if _VALID_ID.match(given) else uuid.uuid4().hex)
        token = current.set(info)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", info.request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path: str = scope.get("path", "")
            operation = info.operation or _route(path)
            outcome = info.outcome or ("ok" if status < 400 else str(status))
            metrics.REQUESTS.labels(operation, outcome).inc()
            metrics.REQUEST_SECONDS.labels(operation).observe(elapsed)
            if not path.startswith(self.quiet_paths):
                log.info(
                    "%s %s %d %.1f ms",
                    scope.get("method", ""),
                    path,
                    status,
                    elapsed * 1000,
                    extra={
                        "operation": operation,
                        "status": status,
                        "outcome": outcome,
                        "duration_ms": round(elapsed * 1000, 1),
                    },
                )
            current.reset(token)


def _route(path: str) -> str:
    """A low-cardinality label for a path that is not a GraphQL operation."""
    for prefix in ("/_sandbox", "/webhooks/stripe", "/health/ready", "/health", "/metrics"):
        if path.startswith(prefix):
            return prefix
    return "other"
