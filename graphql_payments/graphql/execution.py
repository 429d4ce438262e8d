"""Compiled completion of plain objects: the same answers as graphql-core, without its per-field
machinery where no resolver logic runs.

graphql-core completes every field of every object on its own: resolve info, resolver call,
type checks, leaf coercion. For a page of 20 payments that is about 170 fields, most of them
plain attributes. `CompiledExecutionContext` compiles, once per selection (cached by the
identity of its document nodes, which the document caches keep alive), a plan for an object
whose selected fields are all plain: attributes without a resolver, or synchronous resolvers
taking only `self`, returning leaves, plain objects or lists of them. Completing such an object
runs the plan: attribute reads and leaf coercion, nothing else.

Anything a plan does not cover (arguments, directives, abstract types, async resolvers, field
extensions, merged fields) keeps graphql-core's path. A plan that meets anything unexpected
while running (an exception, a null where the type says non-null, a value a leaf type refuses)
stops, and graphql-core completes the same object from the start: plain reads have no side
effects, so its answer and its error (with path and locations) are exactly the usual ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    SelectionSetNode,
    Undefined,
)
from graphql.execution.collect_fields import FragmentDetails
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

MAX_PLANS = 4096

# A completer turns one source value into its completed value, or raises Miss.
Completer = Callable[[Any], Any]


class Miss(Exception):
    """The plan met something only graphql-core's path answers correctly."""


def _getter(definition: Any) -> Callable[[Any], Any] | None:
    """How to read a field from its source without graphql-core, None when it needs more."""
    field = (definition.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(field, StrawberryField) or field.extensions or definition.args:
        return None
    resolver = field.base_resolver
    if resolver is None:
        name = field.python_name
        return lambda source: getattr(source, name)
    parameters = resolver.signature.parameters
    if resolver.is_async or resolver.self_parameter is None or len(parameters) != 1:
        return None
    method: Callable[[Any], Any] = resolver.wrapped_func  # type: ignore[assignment]
    return method


def _leaf(type_: GraphQLLeafType) -> Completer:
    coerce = type_.coerce_output_value

    def complete(value: Any) -> Any:
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Miss
        return coerced

    return complete


class _Compiler:
    def __init__(self, fragments: dict[str, FragmentDetails]) -> None:
        self.fragments = fragments

    def object(self, type_: GraphQLObjectType, nodes: list[FieldNode]) -> Completer | None:
        fields: list[tuple[str, Callable[[Any], Any] | None, Completer]] = []
        keys: set[str] = set()
        for node in nodes:
            if node.selection_set is None or not self.collect(type_, node.selection_set, fields):
                return None
        for key, _, _ in fields:
            if key in keys:
                return None  # a response key selected twice: merging is graphql-core's
            keys.add(key)
        plan = tuple(fields)
        name = type_.name

        def complete(source: Any) -> dict[str, Any]:
            result: dict[str, Any] = {}
            try:
                for key, read, finish in plan:
                    result[key] = finish(read(source) if read is not None else name)
            except Miss:
                raise
            except Exception:
                raise Miss from None
            return result

        return complete

    def collect(
        self,
        type_: GraphQLObjectType,
        selection_set: SelectionSetNode,
        fields: list[tuple[str, Callable[[Any], Any] | None, Completer]],
    ) -> bool:
        for selection in selection_set.selections:
            if selection.directives:
                return False
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                if selection.name.value == "__typename":
                    fields.append((key, None, _same))
                    continue
                definition = type_.fields.get(selection.name.value)
                if definition is None or selection.arguments:
                    return False
                read = _getter(definition)
                finish = self.value(definition.type, selection)
                if read is None or finish is None:
                    return False
                fields.append((key, read, finish))
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner: SelectionSetNode = selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None or fragment.variable_signatures:
                    return False
                definition = fragment.definition
                condition, inner = definition.type_condition, definition.selection_set
            else:
                return False
            if condition is not None and condition.name.value != type_.name:
                return False
            if not self.collect(type_, inner, fields):
                return False
        return True

    def value(self, type_: GraphQLOutputType, node: FieldNode) -> Completer | None:
        if isinstance(type_, GraphQLNonNull):
            inner = self.value(type_.of_type, node)
            if inner is None:
                return None

            def non_null(value: Any) -> Any:
                if value is None or value is Undefined:
                    raise Miss
                return inner(value)

            return non_null
        if isinstance(type_, GraphQLList):
            item = self.value(type_.of_type, node)
            if item is None:
                return None

            def items(value: Any) -> Any:
                if value is None or value is Undefined:
                    return None
                if not isinstance(value, list | tuple):
                    raise Miss
                return [item(element) for element in value]

            return items
        if isinstance(type_, GraphQLObjectType):
            if type_.is_type_of is not None:
                return None
            complete = self.object(type_, [node])
            if complete is None:
                return None
            return _nullable(complete)
        if isinstance(type_, GraphQLLeafType):
            return _nullable(_leaf(type_))
        return None  # an interface or union: graphql-core resolves the runtime type


def _same(value: Any) -> Any:
    return value


def _nullable(complete: Completer) -> Completer:
    def nullable(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        return complete(value)

    return nullable


# (type name, ids of the field nodes) -> (the nodes, kept alive so the ids stay theirs; plan)
_plans: dict[tuple[str, tuple[int, ...]], tuple[tuple[FieldNode, ...], Completer | None]] = {}


class CompiledExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with plain objects completed by compiled plans."""

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        plan = self._plan(return_type, field_details_list)
        if plan is not None and (
            return_type.is_type_of is None or return_type.is_type_of(result, info) is True
        ):
            try:
                return plan(result)
            except Miss:
                pass
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _plan(self, return_type: GraphQLObjectType, field_details_list: Any) -> Completer | None:
        nodes = []
        for details in field_details_list:
            if details.defer_usage is not None:
                return None
            nodes.append(details.node)
        key = (return_type.name, tuple(map(id, nodes)))
        found = _plans.get(key)
        if found is not None:
            return found[1]
        plan = _Compiler(self.fragments).object(return_type, nodes)
        if len(_plans) >= MAX_PLANS:
            _plans.clear()
        _plans[key] = (tuple(nodes), plan)
        return plan
