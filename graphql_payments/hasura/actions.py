"""`POST /hasura/actions`: one handler for every Hasura Action, dispatching on `action.name`.

Hasura posts `{"action": {"name"}, "input", "session_variables", "request_query"}`. Each action
is a root field of the GraphQL schema (`roots.py`), and the handler runs that very field through
the schema, with `input` as its variables and the caller named by `session_variables`: the same
resolver, permission checks, service method and idempotency keys as a GraphQL request, with no
second implementation to drift. `request_query` is not needed: the answer is the whole output
object, and Hasura picks what its client asked for.

Answers, as Hasura expects them:

* 200 with the output object (or `null` for a nullable field with nothing to show);
* 400 `{"message", "extensions": {"code", "type", ...}}` for an expected failure (a result
  union's error member, with its fields) or bad input (`BAD_USER_INPUT`, `BAD_REQUEST`);
* 401 for a missing or wrong shared secret (`X-Payments-Secret`, or the legacy `ACTION-SECRET`
  header, compared in constant time) or a session without the identity it needs, 403 for a
  role that may not use the action or the API;
* 413 for a body over `PAYMENTS_MAX_BODY_BYTES`; 429 (`RATE_LIMITED`, `Retry-After`) past
  the rate limits: failed secrets count against the `auth` limit, actions against `service`;
* 500 only for a bug (masked, `INTERNAL_SERVER_ERROR`).
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    Undefined,
)
from starlette.requests import Request
from starlette.responses import JSONResponse

from graphql_payments import ratelimit
from graphql_payments.auth.principal import from_session, shared_secret_matches
from graphql_payments.errors import AccessDenied
from graphql_payments.graphql.context import Context
from graphql_payments.graphql.schema import schema
from graphql_payments.hasura.roots import ActionField, action_fields, is_user_error, selection
from graphql_payments.ratelimit import Exceeded, RateLimiter
from graphql_payments.services import Services

log = logging.getLogger(__name__)

SECRET_HEADERS = ("x-payments-secret", "action-secret")
RESULT = "result"
STATUS_BY_CODE = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "INTERNAL_SERVER_ERROR": 500}


class Refused(Exception):
    """An answer other than 200: its status, message and extensions."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.extensions = {"code": code, **extensions}

    def response(self) -> JSONResponse:
        body = {"message": self.message, "extensions": self.extensions}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def _rate_limited(exceeded: Exceeded) -> Refused:
    return Refused(
        429,
        f"Too many requests: the {exceeded.kind} limit ({exceeded.limit}) is used up. "
        f"Retry in {exceeded.retry_after} s.",
        "RATE_LIMITED",
        headers={"Retry-After": str(exceeded.retry_after)},
        retryAfter=exceeded.retry_after,
    )


def _variable_type(argument: GraphQLArgument) -> str:
    """The variable's type: nullable where the argument has a default, so it may be left out."""
    type_ = argument.type
    if isinstance(type_, GraphQLNonNull) and argument.default_value is not Undefined:
        return str(type_.of_type)
    return str(type_)


@cache
def actions() -> dict[str, ActionField]:
    return {action.name: action for action in action_fields()}


@cache
def document(name: str) -> str:
    """The GraphQL operation action `name` runs: its root field, every argument a variable.
    Built once per action, so the parser and validation caches hold it."""
    action = actions()[name]
    arguments = action.field.args
    if action.union is not None:
        members = " ".join(f"... on {m.name} {selection(m)}" for m in action.union.types)
        body = "{ __typename " + members + " }"
    else:
        body = selection(action.field.type)
    head = f"{action.operation} {action.name}"
    call = action.field_name
    if arguments:
        head += "(" + ", ".join(f"${n}: {_variable_type(a)}" for n, a in arguments.items()) + ")"
        call += "(" + ", ".join(f"{n}: ${n}" for n in arguments) + ")"
    return f"{head} {{ {RESULT}: {call} {body} }}"


def _drop_defaulted_nulls(value: Any, type_: GraphQLInputType) -> Any:
    """`value` without the nulls Hasura sends for fields we give a default (such as
    `force: Boolean! = false`): its types make every such field optional instead."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList) and isinstance(value, list):
        return [_drop_defaulted_nulls(item, type_.of_type) for item in value]
    if isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
        return _without_nulls(value, type_.fields)
    return value


def _without_nulls(
    values: dict[str, Any], definitions: dict[str, GraphQLInputField] | dict[str, GraphQLArgument]
) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in values.items():
        definition = definitions.get(name)
        if definition is None:
            kept[name] = value  # unknown: GraphQL names it in its error
        elif value is None and (
            isinstance(definition.type, GraphQLNonNull)
            and definition.default_value is not Undefined
        ):
            continue
        else:
            kept[name] = _drop_defaulted_nulls(value, definition.type)
    return kept


def _payload(body: bytes) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The action's name, input and session variables from a Hasura Action request body."""
    try:
        payload = json.loads(body)
    except ValueError:
        raise Refused(400, "The request body is not valid JSON.", "BAD_REQUEST") from None
    action = payload.get("action") if isinstance(payload, dict) else None
    name = action.get("name") if isinstance(action, dict) else None
    if not isinstance(name, str):
        raise Refused(400, "Expected a Hasura Action payload with action.name.", "BAD_REQUEST")
    arguments = payload.get("input")
    arguments = {} if arguments is None else arguments
    session = payload.get("session_variables")
    session = {} if session is None else session
    if not isinstance(arguments, dict) or not isinstance(session, dict):
        raise Refused(400, "input and session_variables must be JSON objects.", "BAD_REQUEST")
    return name, arguments, session


async def _check_secret(request: Request, services: Services, limiter: RateLimiter) -> None:
    """The shared secret, or 401; failures count against the `auth` rate limit, actions
    against the `service` one (as on /graphql)."""
    peer = request.client.host if request.client else None
    ip = limiter.client_ip(peer, request.headers.getlist("x-forwarded-for"))
    if exceeded := await limiter.over(ratelimit.AUTH, ip):
        raise _rate_limited(exceeded)
    given = next((request.headers[h] for h in SECRET_HEADERS if h in request.headers), None)
    if given is None or not shared_secret_matches(given, services.settings):
        await limiter.hit(ratelimit.AUTH, ip)
        raise Refused(
            401,
            "Invalid or missing X-Payments-Secret (or ACTION-SECRET) header.",
            "UNAUTHENTICATED",
        )
    if exceeded := await limiter.hit(ratelimit.SERVICE, ip):
        raise _rate_limited(exceeded)


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    size = int(declared) if declared is not None and declared.isdigit() else 0
    chunks: list[bytes] = []
    if size <= limit:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
    if size > limit:
        raise Refused(413, f"The request body is larger than {limit} bytes.", "PAYLOAD_TOO_LARGE")
    return b"".join(chunks)


def _without_typename(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_typename(v) for k, v in value.items() if k != "__typename"}
    if isinstance(value, list):
        return [_without_typename(item) for item in value]
    return value


async def run(
    request: Request,
    services: Services,
    name: str,
    arguments: dict[str, Any],
    session: dict[str, Any],
) -> Any:
    """The output object of action `name` for this caller; raises Refused otherwise."""
    action = actions().get(name)
    if action is None:
        raise Refused(400, f"Unknown action {name[:100]!r}.", "NOT_FOUND")
    unknown = sorted(set(arguments) - set(action.field.args))
    if unknown:
        raise Refused(400, f"{name} takes no argument {unknown[0][:100]!r}.", "BAD_USER_INPUT")
    try:
        caller = from_session(session, services.settings)
    except AccessDenied as exc:
        raise Refused(STATUS_BY_CODE.get(exc.code, 403), str(exc), exc.code) from None
    # The document is ours, built once per action (no client chooses its fields or depth), so
    # the query cost limit meant for clients' documents is not applied to it.
    context = Context(
        request, None, services, validation_rules=(), caller=caller, known_caller=True
    )
    result = await schema.execute(
        document(action.name),
        variable_values=_without_nulls(arguments, action.field.args),
        context_value=context,
        operation_name=action.name,
    )
    if result.errors:
        error = result.errors[0]
        code = str((error.extensions or {}).get("code") or "BAD_USER_INPUT")
        if error.message == "Unexpected error.":
            code = "INTERNAL_SERVER_ERROR"
        raise Refused(STATUS_BY_CODE.get(code, 400), error.message, code)
    assert result.data is not None
    output = result.data[RESULT]
    if isinstance(output, dict) and action.union is not None:
        member = schema._schema.get_type(output["__typename"])
        if isinstance(member, GraphQLObjectType) and is_user_error(member):
            details = {
                k: v for k, v in output.items() if k not in ("__typename", "code", "message")
            }
            raise Refused(400, output["message"], output["code"], type=member.name, **details)
    return _without_typename(output)


async def hasura_actions(request: Request) -> JSONResponse:
    """The route: authenticate, read the payload, run the action, answer as Hasura expects."""
    services: Services = request.app.state.services
    try:
        await _check_secret(request, services, request.app.state.limiter)
        name, arguments, session = _payload(await _read(request, services.settings.max_body_bytes))
        return JSONResponse(await run(request, services, name, arguments, session))
    except Refused as refused:
        if refused.status >= 500:
            log.error("hasura action failed: %s", refused.message)
        return refused.response()
