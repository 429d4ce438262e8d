"""Query cost, computed from the document before anything runs.

Leaves are free; each object field costs 1 plus its selection. A list field costs its size
times its selection: for a connection the size is its `first` (20 when absent, at most 100, and
100 when `first` is a variable, since the cost is computed once per document and cached), for
any other list `LIST_SIZE`. `totalCount` costs `COUNT_COST` (it runs a count). Fragments are
counted where they are spread. So a remote join asking `paymentStatus` for 1,000 order ids costs
a few thousand and passes, while 200 aliases of `paymentHistory(first: 100)` with nested lists
cost hundreds of thousands and are refused with `extensions.code` `QUERY_TOO_COMPLEX`.

`cost_rule(limit)` returns the validation rule for one limit. It is built once per limit
(at import for the default, at app creation for a configured one), never per request, so the
validation cache keeps its key.
"""

from __future__ import annotations

import functools
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    get_named_type,
    is_leaf_type,
)

from graphql_payments.config import DEFAULT_MAX_QUERY_COST as DEFAULT_MAX_COST
from graphql_payments.graphql.pagination import DEFAULT_FIRST, MAX_FIRST

LIST_SIZE = 10
COUNT_COST = 10


def _is_list(type_: GraphQLType) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _page_size(node: FieldNode) -> int:
    for argument in node.arguments or ():
        if argument.name.value == "first":
            if isinstance(argument.value, IntValueNode):
                return max(0, min(int(argument.value.value), MAX_FIRST))
            return MAX_FIRST
    return DEFAULT_FIRST


class _Counter:
    def __init__(self, context: ValidationContext, limit: int) -> None:
        self.fragments: dict[str, FragmentDefinitionNode] = {
            d.name.value: d
            for d in context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        self.limit = limit
        self.schema = context.schema

    def selection(
        self,
        selection_set: SelectionSetNode | None,
        parent: Any,
        page: int | None,
        seen: frozenset[str],
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(node, parent, page, seen)
            elif isinstance(node, InlineFragmentNode):
                target = parent
                if node.type_condition is not None:
                    target = self.schema.get_type(node.type_condition.name.value) or parent
                total += self.selection(node.selection_set, target, page, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value) or parent
                total += self.selection(fragment.selection_set, target, page, seen | {name})
            if total > self.limit * 10:
                return total  # far over already: stop walking
        return total

    def field(self, node: FieldNode, parent: Any, page: int | None, seen: frozenset[str]) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        fields = getattr(parent, "fields", None)
        definition = fields.get(name) if fields else None
        if definition is None:
            return 0  # an unknown field: another rule reports it
        if name == "totalCount":
            return COUNT_COST
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        child_page = _page_size(node) if "first" in definition.args else None
        inner = 1 + self.selection(node.selection_set, named, child_page, seen)
        if _is_list(definition.type):
            return (page if page is not None else LIST_SIZE) * inner
        return inner


def operation_cost(
    context: ValidationContext, operation: OperationDefinitionNode, limit: int
) -> int:
    root = context.schema.get_root_type(operation.operation)
    if root is None:
        return 0
    return _Counter(context, limit).selection(operation.selection_set, root, None, frozenset())


@functools.cache
def cost_rule(limit: int) -> type[ASTValidationRule]:
    """The validation rule refusing operations that cost more than `limit`."""

    class QueryCostRule(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            context = self.context
            assert isinstance(context, ValidationContext)
            cost = operation_cost(context, node, limit)
            if cost > limit:
                name = node.name.value if node.name else "the operation"
                self.report_error(
                    GraphQLError(
                        f"Query too complex: {name} costs {cost}, more than the {limit} allowed. "
                        "Ask for fewer items (first) or fewer fields, or split the query.",
                        node,
                        extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "maxCost": limit},
                    )
                )

    QueryCostRule.__name__ = f"QueryCostRule{limit}"
    return QueryCostRule


__all__ = ["DEFAULT_MAX_COST", "cost_rule", "operation_cost"]
