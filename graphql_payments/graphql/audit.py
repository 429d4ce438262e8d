"""Audit records for admin and service mutations: who, what, with which input, how it ended.

`mutation(..., audit="refund")` adds `Audited` to a mutation: after the resolver ran (whether
it returned a success or an expected failure), one record is written with the caller, the
input, the result and the request id. A mutation refused for lack of permission changes
nothing and leaves no record.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.extensions import FieldExtension

from graphql_payments import errors, logs
from graphql_payments.graphql.context import Info
from graphql_payments.graphql.errors import user_error
from graphql_payments.operations.audit import Actor

log = logging.getLogger(__name__)

# Whether a call is audited, from its info and arguments (default: always).
Condition = Callable[[Info, dict[str, Any]], bool]


def _input(value: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: v for k, v in dataclasses.asdict(value).items() if v is not None}
    return {k: v for k, v in dict(value).items() if v is not None}


def _result(value: Any) -> tuple[dict[str, Any], str | None]:
    """The result as kept in the record, and the payment it concerns."""
    code = getattr(value, "code", None)
    if code is not None:
        return {"error": getattr(code, "value", str(code)), "message": value.message}, None
    outcome: dict[str, Any] = {"ok": type(value).__name__}
    payment_id = None
    payment = getattr(value, "payment", None)
    if payment is not None:
        payment_id = str(payment.id)
        outcome["payment"] = {"id": payment_id, "status": getattr(payment.status, "value", None)}
    refund = getattr(value, "refund", None)
    if refund is not None:
        outcome["refund"] = {"id": str(refund.id), "status": getattr(refund.status, "value", None)}
    return outcome, payment_id


def for_someone_else(info: Info, arguments: dict[str, Any]) -> bool:
    """A change an admin or a service makes for another user (`input.userId`) is audited."""
    caller = info.context.caller
    user_id = arguments["input"].user_id
    return user_id is not None and (caller is None or user_id != caller.user_id)


class Audited(FieldExtension):
    def __init__(self, action: str, when: Condition | None = None) -> None:
        self.action = action
        self.when = when

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        try:
            result = await next_(source, info, **kwargs)
        except errors.PaymentsError as exc:
            result = user_error(exc)
        if self.when is None or self.when(info, kwargs):
            await record(info, self.action, kwargs.get("input", kwargs), result)
        return result


async def record(info: Info, action: str, input: Any, result: Any) -> None:
    """Keep an audit record of a mutation the caller made; never fails the mutation."""
    caller = info.context.caller
    headers = info.context.request.headers
    actor = Actor(
        user_id=caller.user_id if caller else None,
        role=caller.role if caller else "anonymous",
        authenticated_by="jwt" if headers.get("authorization") else "shared_secret",
    )
    outcome, payment_id = _result(result)
    given = _input(input)
    try:
        await info.context.services.audit.record(
            actor,
            action=action,
            input=given,
            result=outcome,
            payment_id=payment_id or given.get("payment_id"),
            request_id=logs.request_id(),
        )
    except Exception:
        log.exception("could not keep the audit record of %s", action)
