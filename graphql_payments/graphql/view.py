"""`/graphql` over HTTP: every answer is JSON, bodies are bounded, callers are rate limited.

In front of Strawberry's view, in this order:

1. Rate limits (headers only, nothing parsed yet): failed authentication per client IP, then
   the shared-secret service path, or per IP and per user. Over a limit: 429, `Retry-After`
   and a GraphQL error with `extensions.code` `RATE_LIMITED`.
2. The body limit (`PAYMENTS_MAX_BODY_BYTES`): 413 with `PAYLOAD_TOO_LARGE`, read no further.
3. Strawberry, whose transport errors (malformed JSON, wrong method or content type, unknown
   operation) are turned into GraphQL-over-HTTP JSON errors instead of plain text.

Over WebSocket (`graphql-transport-ws`, for `paymentUpdated`) the same rate limits apply to
the connection (4429 when used up); the credentials come in `connection_init`'s payload and
are checked before the connection is acknowledged (4403 when refused).

Mutations that create Stripe objects are counted against the `stripe` limit once the
operation is known (`StripeMutationLimit`). Queries run within a time budget
(`PAYMENTS_REQUEST_TIMEOUT`).

A query or mutation sent as a JSON POST whose document is valid takes a shorter way
(`answer_query`): its document is parsed and validated once, with the same rules, and cached;
graphql-core executes it on the schema directly, and its errors get the same treatment as on
Strawberry's way (expected failures keep their code, others are masked, every error gets a
code), and a mutation counts against the `stripe` limit as there. Strawberry per-request layers
cost more than the query itself: about 0.4 ms of a 1 ms `paymentStatus`. Everything else
(subscriptions, GET, invalid documents, batches, streams, uploads) goes through Strawberry's
view, so every error reads the same as before. On SQLite mutations, and every request on
Strawberry's way, take turns (`graphql_payments.turns`), so a burst of mutations cannot hold
up `/health` and queries.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from inspect import isawaitable
from typing import Any, TypeVar

import orjson
from cross_web import HTTPException
from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.language import OperationType as GraphQLOperationType
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.graphql import OperationType

from graphql_payments import ratelimit, web
from graphql_payments.auth import Principal
from graphql_payments.db import sessions_per_request
from graphql_payments.errors import AccessDenied
from graphql_payments.graphql.context import Context, identify
from graphql_payments.graphql.cost import cost_rule
from graphql_payments.graphql.execution import CompiledExecutionContext
from graphql_payments.graphql.guards import nul_path, stripe_limit, stripe_refusal
from graphql_payments.graphql.schema import (
    MAX_TOKENS,
    VALIDATION_RULES,
    client_errors,
    name_request,
    schema,
)
from graphql_payments.ratelimit import Exceeded, RateLimiter
from graphql_payments.services import Services
from graphql_payments.turns import Turns

SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
MAX_QUOTE = 100
MAX_MESSAGE = 1000
ALLOWED_METHODS = "GET, POST"
# Database sessions one request may hold at once (the pool has 10 + 10 overflow).
SESSIONS_PER_REQUEST = 4
# Valid documents kept parsed, per set of validation rules (as Strawberry's caches keep 1,000).
MAX_DOCUMENTS = 1000
# Mutations (and requests on Strawberry's way) that run their own work at once on SQLite.
TURNS = 1
STREAM_TYPES = ("multipart/mixed", "text/event-stream")
# Operations a valid JSON POST runs on graphql-core directly (subscriptions stream elsewhere).
SHORT_WAY = frozenset({GraphQLOperationType.QUERY, GraphQLOperationType.MUTATION})
T = TypeVar("T")


def error_response(
    message: str, code: str, status: int, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A GraphQL-over-HTTP error answer: `{"errors": [{message, extensions: {code}}]}`."""
    body = {"errors": [{"message": message, "extensions": {"code": code, **extra}}]}
    return JSONResponse(body, status_code=status, headers=headers)


def rate_limited(exceeded: Exceeded) -> JSONResponse:
    return error_response(
        f"Too many requests: the {exceeded.kind} limit ({exceeded.limit}) is used up. "
        f"Retry in {exceeded.retry_after} s.",
        "RATE_LIMITED",
        429,
        headers={"Retry-After": str(exceeded.retry_after)},
        retryAfter=exceeded.retry_after,
    )


class BodyTooLarge(Exception):
    pass


class RequestTimeout(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # like a client that sends nothing more
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class Documents:
    """Query documents parsed and validated once: the document when it is valid under the
    rules, None when it is not (then Strawberry's view answers it, with its usual errors)."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, tuple[type[ASTValidationRule], ...]], DocumentNode | None] = {}
        self.hits = self.misses = 0
        self.answered = 0  # requests the short way answered (the others went to Strawberry)

    def valid(self, query: str, rules: tuple[type[ASTValidationRule], ...]) -> DocumentNode | None:
        key = (query, rules)
        try:
            found = self.found[key]
        except KeyError:
            self.misses += 1
        else:
            self.hits += 1
            return found
        document: DocumentNode | None
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError:
            document = None
        all_rules = (*specified_rules, *VALIDATION_RULES, *rules)
        if document is not None and validate(schema._schema, document, all_rules):
            document = None
        if len(self.found) >= MAX_DOCUMENTS:
            self.found.clear()
        self.found[key] = document
        return document


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, services: Services, limiter: RateLimiter) -> None:
        settings = services.settings
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        )
        self.services = services
        self.limiter = limiter
        self.max_body = settings.max_body_bytes
        self.timeout = settings.request_timeout
        self.suggestions = settings.introspection
        cost: tuple[type[ASTValidationRule], ...] = (cost_rule(settings.max_query_cost),)
        # Trusted services (Hasura) may always introspect; others only when it is on.
        self.service_rules = cost
        self.validation_rules = (
            cost if settings.introspection else (*cost, NoSchemaIntrospectionCustomRule)
        )
        self.documents = Documents()
        # On SQLite, whose writes run on the loop's thread and never yield to it, mutations (and
        # whatever else takes Strawberry's way) run one at a time, giving their turn back while
        # they wait on Stripe (see `turns`). PostgreSQL's driver yields while it waits.
        self.turns = Turns(TURNS) if services.db.inline_writes else None

    @property
    def graphql_ide_html(self) -> str:
        return web.graphiql_html(super().graphql_ide_html)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if await self.limit(HTTPConnection(scope)) is not None:
                await send({"type": "websocket.close", "code": 4429})
                return
            await super().__call__(scope, receive, send)
            return
        if scope["type"] != "http":
            await error_response("Use HTTP GET or POST.", "BAD_REQUEST", 400)(scope, receive, send)
            return
        response = await self.answer(Request(scope, receive))
        await response(scope, receive, send)

    def turn(self) -> AbstractAsyncContextManager[None]:
        """This request's turn (a block already holding one keeps it); nothing to wait for
        where requests take no turns."""
        return self.turns.turn() if self.turns is not None else nullcontext()

    async def answer(self, request: Request) -> Response:
        refused = await self.limit(request)
        if refused is not None:
            return refused
        try:
            body = await _read_body(request, self.max_body)
        except BodyTooLarge:
            return error_response(
                f"The request body is larger than {self.max_body} bytes.", "PAYLOAD_TOO_LARGE", 413
            )
        # A body naming a mutation queues for its turn before any more work: when a burst of
        # mutations arrives at once, what the rest of the server waits behind is only their
        # reading (a mutation whose name is written otherwise takes its turn later).
        early = self.turns is not None and b"mutation" in body
        try:
            async with self.turn() if early else nullcontext():
                answered = await self.answer_query(request, body)
                if answered is not None:
                    return answered
                async with self.turn():
                    return await self.run(Request(request.scope, _replay(body)))
        except HTTPException as exc:
            headers = {"Allow": ALLOWED_METHODS} if exc.status_code == 405 else None
            return error_response(str(exc.reason), "BAD_REQUEST", exc.status_code, headers=headers)
        except RequestTimeout as exc:
            return error_response(str(exc), "REQUEST_TIMEOUT", 503)
        except ValueError:  # a body that is not JSON (Strawberry lets some through)
            return error_response("The request body is not valid JSON.", "BAD_REQUEST", 400)

    async def answer_query(self, request: Request, body: bytes) -> Response | None:
        """A valid query or mutation sent as a JSON POST, answered on graphql-core directly;
        None for anything else, which Strawberry's view answers."""
        headers = request.headers
        if request.method != "POST" or "application/json" not in headers.get("content-type", ""):
            return None
        accept = headers.get("accept", "")
        if any(stream in accept for stream in STREAM_TYPES):
            return None
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        query, variables = data.get("query"), data.get("variables")
        name, extensions = data.get("operationName"), data.get("extensions")
        if not (
            isinstance(query, str)
            and isinstance(variables, dict | None)
            and isinstance(name, str | None)
            and isinstance(extensions, dict | None)
        ):
            return None
        if variables and nul_path(variables, "$") is not None:
            return None
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, sub_response)
        document = self.documents.valid(query, context.validation_rules)
        if document is None:
            return None
        operation = get_operation_ast(document, name)
        if operation is None or operation.operation not in SHORT_WAY:
            return None
        mutation = operation.operation is GraphQLOperationType.MUTATION
        context.operation_type = OperationType.MUTATION if mutation else OperationType.QUERY

        async def run() -> ExecutionResult:
            result = execute(
                schema._schema,
                document,
                context_value=context,
                variable_values=variables,
                operation_name=name,
                executor_class=CompiledExecutionContext,
                is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
                operation_extensions=extensions,
            )
            return await result if isawaitable(result) else result

        if mutation:
            async with self.turn():
                exceeded = await stripe_limit(context, document)
                if exceeded is not None:
                    result = stripe_refusal(context, exceeded)
                else:
                    result = await self.within_budget(context, run)
        else:
            result = await self.within_budget(context, run)
        if result.errors:
            schema.process_errors(result.errors)
            result.errors = client_errors(result.errors)
        name_request(operation.name.value if operation.name else "query", result.errors)
        self.documents.answered += 1
        processed = await self.process_result(request, result)
        return self.create_response(processed, sub_response)

    async def limit(self, request: HTTPConnection) -> Response | None:
        """Count this request against the rate limits; the refusal when one is used up."""
        limiter = self.limiter
        if not limiter.enabled:
            return None
        peer = request.client.host if request.client else None
        ip = limiter.client_ip(peer, request.headers.getlist("x-forwarded-for"))
        request.state.client_ip = ip
        has_credentials = "authorization" in request.headers or (
            "x-payments-secret" in request.headers
        )
        if has_credentials and (exceeded := await limiter.over(ratelimit.AUTH, ip)):
            return rate_limited(exceeded)
        caller = identify(request, self.services)
        request.state.caller = caller
        if isinstance(caller, AccessDenied):
            exceeded = await limiter.hit(ratelimit.AUTH, ip)
            return rate_limited(exceeded) if exceeded else None
        if "x-payments-secret" in request.headers:
            exceeded = await limiter.hit(ratelimit.SERVICE, ip)
        else:
            exceeded = await limiter.hit(ratelimit.IP, ip)
            if exceeded is None and isinstance(caller, Principal) and caller.user_id:
                exceeded = await limiter.hit(ratelimit.USER, caller.user_id)
        return rate_limited(exceeded) if exceeded else None

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """Check the credentials of `connection_init` before acknowledging the connection."""
        try:
            context.caller  # noqa: B018
        except AccessDenied as exc:
            raise ConnectionRejectionError({"message": str(exc), "code": exc.code}) from None
        return None

    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)
        if not isinstance(parsed, dict):
            raise HTTPException(400, "The request body must be a JSON object.")
        return parsed

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # its JSONDecodeError is json's, which the view answers 400

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def get_context(self, request: Any, response: Any) -> Context:
        context = Context(
            request,
            response,
            self.services,
            validation_rules=self.validation_rules,
            limiter=self.limiter,
        )
        # (On a WebSocket the credentials arrive later, in `connection_init`.)
        if (
            not isinstance(request, WebSocket)
            and "x-payments-secret" in request.headers
            and not isinstance(context.caller_or_error, AccessDenied)
        ):
            context.validation_rules = self.service_rules
        return context

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        context: Context = kwargs["context"]
        operation = super().execute_operation
        return await self.within_budget(context, lambda: operation(*args, **kwargs))

    async def within_budget(self, context: Context, run: Callable[[], Awaitable[T]]) -> T:
        """Run the operation; a query still running after the time budget is stopped (503).

        A mutation is never cut short: it may be between Stripe and the database, so it runs to
        the end, bounded by the Stripe timeouts. (A timer, not a task: it costs nothing unless
        it fires.) One request holds at most SESSIONS_PER_REQUEST database sessions at once.
        """
        task = asyncio.current_task()
        assert task is not None
        expired = False

        def expire() -> None:
            nonlocal expired
            if context.operation_type is not OperationType.MUTATION:
                expired = True
                task.cancel()

        timer = asyncio.get_running_loop().call_later(self.timeout, expire)
        try:
            with sessions_per_request(SESSIONS_PER_REQUEST):
                return await run()
        except asyncio.CancelledError:
            if not expired:
                raise
            task.uncancel()
            raise RequestTimeout(
                f"The request took longer than {self.timeout:g} s and was stopped."
            ) from None
        finally:
            timer.cancel()

    async def process_result(self, request: Any, result: Any) -> GraphQLHTTPResponse:
        """Every error gets an `extensions.code`; quotes of input are cut to 100 characters;
        suggestions go when introspection is off."""
        processed = await super().process_result(request, result)
        errors: list[dict[str, Any]] = processed.get("errors") or []  # type: ignore[assignment]
        for error in errors:
            message = shorten_quotes(str(error["message"]))
            if not self.suggestions:
                message = SUGGESTION.sub("", message)
            error["message"] = message
            extensions = error.setdefault("extensions", {})
            extensions.setdefault("code", _default_code(error))
        return processed


def _default_code(error: dict[str, Any]) -> str:
    if error["message"] == "Unexpected error.":
        return "INTERNAL_SERVER_ERROR"
    if str(error["message"]).startswith("Variable '$"):
        return "BAD_USER_INPUT"
    if "path" in error:
        return "INTERNAL_SERVER_ERROR"
    return "GRAPHQL_VALIDATION_FAILED"


QUOTED = re.compile(r"""(["'])([^"']{101,})\1""")  # a quote longer than MAX_QUOTE


def shorten_quotes(message: str) -> str:
    """The message with every quoted piece of input cut to MAX_QUOTE characters."""
    shortened = QUOTED.sub(lambda m: m[1] + m[2][:MAX_QUOTE] + "..." + m[1], message)
    return shortened if len(shortened) <= MAX_MESSAGE else shortened[:MAX_MESSAGE] + "..."
