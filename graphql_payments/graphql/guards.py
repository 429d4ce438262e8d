"""Per-operation guards (`Guards`, one schema extension) and the NUL validation rule."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    StringValueNode,
    ValidationRule,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from graphql_payments import errors, ratelimit
from graphql_payments.auth import Principal
from graphql_payments.graphql.context import Context
from graphql_payments.graphql.cost import DEFAULT_MAX_COST, cost_rule
from graphql_payments.ratelimit import Exceeded

# Mutations that create or change Stripe objects (sessions, intents, transfers, refunds, cards).
STRIPE_MUTATIONS = frozenset(
    {
        "checkout",
        "authorize",
        "release",
        "revert",
        "refund",
        "addPaymentMethod",
        "setDefaultPaymentMethod",
        "removePaymentMethod",
        "autopay",
    }
)
# The rules for a context that names none (a direct `schema.execute`).
DEFAULT_APP_RULES: tuple[type[ASTValidationRule], ...] = (cost_rule(DEFAULT_MAX_COST),)


NUL_MESSAGE = "Text may not contain NUL characters (\\u0000)."


class NoNulStrings(ValidationRule):
    """Refuses string literals holding a NUL character."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if "\x00" in node.value:
            self.report_error(
                GraphQLError(NUL_MESSAGE, node, extensions={"code": "BAD_USER_INPUT"})
            )


def nul_path(value: Any, path: str) -> str | None:
    """Where in a variable value a string holds a NUL character, if anywhere."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = nul_path(item, f"{path}.{key}")
        if found is not None:
            return found
    return None


class Guards(SchemaExtension):
    """One extension for what each operation needs checked:

    - the validation rules the serving app built once (cost limit, introspection switch);
    - variables with a NUL character are refused before anything runs;
    - mutations that create Stripe objects count against the caller's `stripe` limit
      (429, `Retry-After`, `RATE_LIMITED`);
    - expected failures raised outside a result union keep their code instead of being masked.
    """

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        rules = getattr(context.context, "validation_rules", DEFAULT_APP_RULES)
        context.validation_rules = (*context.validation_rules, *rules)
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        if isinstance(context, Context):
            context.operation_type = execution.operation_type
        where = nul_path(execution.variables or {}, "$")
        if where is not None:
            execution.result = _refusal(f"{NUL_MESSAGE[:-1]} (at {where[:100]}).", "BAD_USER_INPUT")
        elif execution.operation_type is OperationType.MUTATION and isinstance(context, Context):
            exceeded = await stripe_limit(context, execution.graphql_document)
            if exceeded is not None:
                execution.result = stripe_refusal(context, exceeded)
        yield
        result = execution.result
        if isinstance(result, ExecutionResult) and result.errors:
            result.errors = [expected_error(error) for error in result.errors]


async def stripe_limit(context: Context, document: DocumentNode | None) -> Exceeded | None:
    """Count a mutation's fields that create Stripe objects against the caller's `stripe`
    limit; the refusal when it is used up."""
    limiter = context.limiter
    if limiter is None or not limiter.enabled:
        return None
    caller = getattr(context.request.state, "caller", None)
    if not isinstance(caller, Principal) or caller.user_id is None:
        return None  # anonymous (refused anyway)
    if "x-payments-secret" in context.request.headers:
        return None  # a trusted service: its own limit
    count = 0
    for definition in document.definitions if document else ():
        for selection in getattr(getattr(definition, "selection_set", None), "selections", ()):
            name = getattr(getattr(selection, "name", None), "value", None)
            if name in STRIPE_MUTATIONS:
                count += 1
    if count == 0:
        return None
    return await limiter.hit(ratelimit.STRIPE, caller.user_id, cost=count)


def stripe_refusal(context: Context, exceeded: Exceeded) -> ExecutionResult:
    """The answer to a mutation over the `stripe` limit: 429 with `Retry-After`."""
    if context.response is not None:
        context.response.status_code = 429
        context.response.headers["Retry-After"] = str(exceeded.retry_after)
    return _refusal(
        f"Too many payment operations: the {exceeded.kind} limit ({exceeded.limit}) "
        f"is used up. Retry in {exceeded.retry_after} s.",
        "RATE_LIMITED",
        retryAfter=exceeded.retry_after,
    )


def _refusal(message: str, code: str, **extra: Any) -> ExecutionResult:
    return ExecutionResult(
        data=None, errors=[GraphQLError(message, extensions={"code": code, **extra})]
    )


def expected_error(error: GraphQLError) -> GraphQLError:
    """An expected failure raised outside a result union, with its own code (not masked)."""
    original = error.original_error
    if isinstance(original, errors.AccessDenied):
        code = original.code
    elif isinstance(original, errors.PaymentsError):
        code = (
            "BAD_USER_INPUT" if isinstance(original, errors.InvalidInput) else original.code.value
        )
    else:
        return error
    return GraphQLError(
        str(original),
        error.nodes,
        error.source,
        error.positions,
        error.path,
        extensions={"code": code},
    )
