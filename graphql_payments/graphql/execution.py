"""Compiled completion of plain objects: the same answers as graphql-core, without its per-field
machinery where no resolver logic runs.

graphql-core completes every field of every object on its own: resolve info, resolver call,
type checks, leaf coercion. For a page of 20 payments that is about 170 fields, most of them
plain attributes. `CompiledExecutionContext` compiles, once per selection (cached by the
identity of its document nodes, which the document caches keep alive), a plan for an object
whose selected fields are all plain: attributes without a resolver, or synchronous resolvers
taking only `self`, returning leaves, plain objects or lists of them. A plan is Python source
written for the selection (one function per object, its attribute reads, null checks and leaf
coercions inline; a leaf value that coercion would return unchanged, such as a `str` for a
String, is not passed to it) and compiled once.

Anything a plan does not cover (arguments, directives, abstract types, async resolvers, field
extensions, merged fields) keeps graphql-core's path. A plan that meets anything unexpected
while running (an exception, a null where the type says non-null, a value a leaf type refuses)
stops, and graphql-core completes the same object from the start: plain reads have no side
effects, so its answer and its error (with path and locations) are exactly the usual ones.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from keyword import iskeyword
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfoHelpers,
    GraphQLString,
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


def _getter(definition: Any) -> str | Callable[[Any], Any] | None:
    """How to read a field from its source without graphql-core: the attribute's name, or the
    resolver to call with the source; None when it needs more."""
    field = (definition.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(field, StrawberryField) or field.extensions or definition.args:
        return None
    resolver = field.base_resolver
    if resolver is None:
        name: str = field.python_name
        return name
    parameters = resolver.signature.parameters
    if resolver.is_async or resolver.self_parameter is None or len(parameters) != 1:
        return None
    method: Callable[[Any], Any] = resolver.wrapped_func  # type: ignore[assignment]
    return method


# (leaf type, the check its values of one Python type pass as they are): graphql-core's
# coercion returns such a value unchanged, so the generated code skips the call for it.
_UNCHANGED: dict[GraphQLLeafType, str] = {
    GraphQLString: "type({v}) is str",
    GraphQLID: "type({v}) is str",
    GraphQLBoolean: "type({v}) is bool",
    GraphQLInt: "type({v}) is int and -2147483648 <= {v} <= 2147483647",
}

# One selected field: its response key, how to read it (None for __typename), its type.
_Field = tuple[str, str | Callable[[Any], Any] | None, GraphQLOutputType, FieldNode]


class _Compiler:
    """Writes the Python source of a plan: one function per object selection, reading its
    fields and completing their values inline, then compiles it once."""

    def __init__(self, fragments: dict[str, FragmentDetails]) -> None:
        self.fragments = fragments
        self.names: dict[str, Any] = {"Miss": Miss, "Undefined": Undefined}
        self.functions: list[str] = []
        self.temporaries = 0

    def plan(self, type_: GraphQLObjectType, nodes: list[FieldNode]) -> Completer | None:
        name = self.object(type_, nodes)
        if name is None:
            return None
        exec("\n\n".join(self.functions), self.names)  # the source is ours, written above
        complete: Completer = self.names[name]
        return complete

    def constant(self, value: Any) -> str:
        """A name for `value` in the generated code's globals."""
        name = f"k{len(self.names)}"
        self.names[name] = value
        return name

    def temporary(self) -> str:
        self.temporaries += 1
        return f"t{self.temporaries}"

    def object(self, type_: GraphQLObjectType, nodes: list[FieldNode]) -> str | None:
        fields: list[_Field] = []
        for node in nodes:
            if node.selection_set is None or not self.collect(type_, node.selection_set, fields):
                return None
        keys = [key for key, _, _, _ in fields]
        if len(set(keys)) != len(keys):
            return None  # a response key selected twice: merging is graphql-core's
        body: list[str] = []
        results: list[str] = []
        for key, read, field_type, node in fields:
            result = self.temporary()
            if read is None:
                body.append(f"{result} = {type_.name!r}")
            else:
                value = self.temporary()
                if not isinstance(read, str):
                    body.append(f"{value} = {self.constant(read)}(source)")
                elif read.isidentifier() and not iskeyword(read):
                    body.append(f"{value} = source.{read}")
                else:
                    body.append(f"{value} = getattr(source, {read!r})")
                lines = self.value(field_type, node, value, result)
                if lines is None:
                    return None
                body += lines
            results.append(f"{key!r}: {result}")
        name = f"complete_{type_.name}_{len(self.functions)}"
        self.functions.append(
            "\n".join(
                [f"def {name}(source):", "    try:"]
                + [f"        {line}" for line in body]
                + ["    except Miss:", "        raise", "    except Exception:"]
                + ["        raise Miss from None", f"    return {{{', '.join(results)}}}"]
            )
        )
        return name

    def collect(
        self, type_: GraphQLObjectType, selection_set: SelectionSetNode, fields: list[_Field]
    ) -> bool:
        for selection in selection_set.selections:
            if selection.directives:
                return False
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                if selection.name.value == "__typename":
                    fields.append((key, None, type_, selection))
                    continue
                definition = type_.fields.get(selection.name.value)
                if definition is None or selection.arguments:
                    return False
                read = _getter(definition)
                if read is None:
                    return False
                fields.append((key, read, definition.type, selection))
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

    def value(
        self, type_: GraphQLOutputType, node: FieldNode, value: str, result: str
    ) -> list[str] | None:
        """Lines completing `value` of `type_` into `result`, raising Miss where graphql-core
        would answer differently; None when a plan cannot."""
        if isinstance(type_, GraphQLNonNull):
            inner = self.present(type_.of_type, node, value, result)
            if inner is None:
                return None
            return [f"if {value} is None or {value} is Undefined:", "    raise Miss", *inner]
        inner = self.present(type_, node, value, result)
        if inner is None:
            return None
        return [
            f"if {value} is None or {value} is Undefined:",
            f"    {result} = None",
            "else:",
            *(f"    {line}" for line in inner),
        ]

    def present(
        self, type_: GraphQLOutputType, node: FieldNode, value: str, result: str
    ) -> list[str] | None:
        """Lines completing `value`, known to be neither null nor undefined."""
        if isinstance(type_, GraphQLList):
            element, completed = self.temporary(), self.temporary()
            inner = self.value(type_.of_type, node, element, completed)
            if inner is None:
                return None
            return [
                f"if not isinstance({value}, list | tuple):",
                "    raise Miss",
                f"{result} = []",
                f"for {element} in {value}:",
                *(f"    {line}" for line in inner),
                f"    {result}.append({completed})",
            ]
        if isinstance(type_, GraphQLObjectType):
            if type_.is_type_of is not None:
                return None
            complete = self.object(type_, [node])
            if complete is None:
                return None
            return [f"{result} = {complete}({value})"]
        if isinstance(type_, GraphQLLeafType):
            coerce = f"{self.constant(type_.coerce_output_value)}({value})"
            checked = [
                f"{result} = {coerce}",
                f"if {result} is None or {result} is Undefined:",
                "    raise Miss",
            ]
            unchanged = _UNCHANGED.get(type_)
            if unchanged is None:
                return checked
            return [
                f"if {unchanged.format(v=value)}:",
                f"    {result} = {value}",
                "else:",
                *(f"    {line}" for line in checked),
            ]
        return None  # an interface or union: graphql-core resolves the runtime type


# (type name, ids of the field nodes) -> (the nodes, kept alive so the ids stay theirs; plan)
_plans: dict[tuple[str, tuple[int, ...]], tuple[tuple[FieldNode, ...], Completer | None]] = {}


def _helpers(context: weakref.ReferenceType[CompiledExecutionContext]) -> GraphQLResolveInfoHelpers:
    """Resolve info's helpers of `context`, reaching it through a weak reference."""

    def gather(values: Any) -> Any:
        return context().gather_async_work(values)  # type: ignore[union-attr]

    def track(values: Any) -> None:
        context().track_async_work(values)  # type: ignore[union-attr]

    return GraphQLResolveInfoHelpers(gather, track)


class CompiledExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with plain objects completed by compiled plans.

    graphql-core's context holds resolve info's helpers as its own bound methods: a reference
    cycle, which keeps a request's whole execution (its context, document fields, variables)
    alive until a full garbage collection finds it. Here the helpers reach the context
    weakly (a resolver only calls them while its execution runs), so an execution is freed as
    soon as the request is answered.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = _helpers(weakref.ref(self))

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
        plan = _Compiler(self.fragments).plan(return_type, nodes)
        if len(_plans) >= MAX_PLANS:
            _plans.clear()
        _plans[key] = (tuple(nodes), plan)
        return plan
