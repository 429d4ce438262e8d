"""The schema: root types composed from each domain, with caches, limits and error masking.

Extensions are factories (one instance per request); the parser and validation caches live at
module level in Strawberry, so they are shared across requests all the same. Validation rules
are built once (at import, or at app creation for rules that depend on settings, such as the
query cost limit and the introspection switch): a rule class made per request would change the
validation cache key and throw the cache away. The app's rules reach validation through the
request context (`Guards`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from graphql_payments import logs
from graphql_payments.autopay.mutations import AutopayMutations
from graphql_payments.autopay.queries import AutopayQueries
from graphql_payments.credits.mutations import CreditMutations
from graphql_payments.credits.queries import CreditQueries
from graphql_payments.customers.mutations import CustomerMutations
from graphql_payments.customers.queries import CustomerQueries
from graphql_payments.escrow.mutations import EscrowMutations
from graphql_payments.events.mutations import EventMutations
from graphql_payments.events.queries import EventQueries
from graphql_payments.events.subscriptions import EventSubscriptions
from graphql_payments.graphql.errors import should_mask
from graphql_payments.graphql.execution import CompiledExecutionContext
from graphql_payments.graphql.guards import Guards, NoNulStrings, expected_error
from graphql_payments.graphql.scalars import SCALAR_OVERRIDES
from graphql_payments.operations.queries import OperationsQueries
from graphql_payments.payments.queries import PaymentQueries
from graphql_payments.refunds.mutations import RefundMutations

MAX_DEPTH = 12
MAX_TOKENS = 50_000

VALIDATION_RULES: list[type[ASTValidationRule]] = [depth_rule(MAX_DEPTH, None, None), NoNulStrings]
Query = merge_types(
    "Query",
    (
        CreditQueries,
        PaymentQueries,
        CustomerQueries,
        AutopayQueries,
        OperationsQueries,
        EventQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        CreditMutations,
        EscrowMutations,
        RefundMutations,
        CustomerMutations,
        AutopayMutations,
        EventMutations,
    ),
)
Subscription = merge_types("Subscription", (EventSubscriptions,))

client_log = logging.getLogger("graphql_payments.graphql")


def name_request(operation: str, errors: list[GraphQLError] | None) -> None:
    """Name the request after its GraphQL operation and outcome (its log line, its metrics)."""
    outcome = "ok"
    if errors:
        outcome = str((errors[0].extensions or {}).get("code") or "error")
    logs.set_operation(f"graphql:{operation}", outcome)


class OperationName(SchemaExtension):
    """Names the request after its GraphQL operation (for the request's log line and metrics)."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        try:
            name = context.operation_name or context.operation_type.value
        except Exception:  # the document did not parse: there is no operation
            name = "invalid"
        errors = context.result.errors if context.result is not None else None
        name_request(name, errors or context.pre_execution_errors)


class PaymentsSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors (bad documents, auth) are one INFO line; only bugs log a traceback."""
        bugs = []
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, GraphQLError):
                code = (error.extensions or {}).get("code") or "GRAPHQL_VALIDATION_FAILED"
                client_log.info("client error %s: %s", code, error.message)
            else:
                bugs.append(error)
        if bugs:
            super().process_errors(bugs, execution_context)


MASK = MaskErrors(should_mask_error=should_mask)


def client_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Execution errors as a client sees them: expected failures keep their code, and any
    other error is masked as "Unexpected error." (as `Guards` and `MaskErrors` do)."""
    shown = [expected_error(error) for error in errors]
    return [MASK.anonymise_error(error) if should_mask(error) else error for error in shown]


EXTENSIONS: list[Any] = [
    OperationName,
    lambda: ParserCache(maxsize=1000),
    lambda: ValidationCache(maxsize=1000),
    lambda: AddValidationRules(VALIDATION_RULES),
    Guards,
    lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
    lambda: MaskErrors(should_mask_error=should_mask),
]

schema = PaymentsSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=EXTENSIONS,
    scalar_overrides=SCALAR_OVERRIDES,  # type: ignore[arg-type]
    execution_context_class=CompiledExecutionContext,
)


def sdl() -> str:
    """The schema in SDL, as committed in `schema.graphql`."""
    return schema.as_str() + "\n"
