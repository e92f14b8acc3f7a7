"""Parsed and validated documents, cached per schema; the complexity limit, per request.

Parsing and validating a document cost more CPU than executing a typical page of results
(the asset page: about two thirds of a request's CPU before this cache), and clients send the
same few documents over and over. So each schema keeps the parsed document and its
validation errors per document text (an LRU of ``DOCUMENT_CACHE_SIZE`` texts):

- the cached result depends on the text alone: the parse options (token cap) and the
  validation rules (graphql's, strawberry's, depth and aliases) are fixed when the schema is
  built, and neither parsing nor validation reads variables or the caller;
- the complexity limit does read variables (``first: $n``), so it is not a validation rule:
  it is computed for every request from the cached document and the request's variables,
  a walk over the operation's selections (no visitor, no validation machinery);
- documents that do not parse are not cached (they are answered with the parse error each
  time), nor are documents an earlier extension refused unparsed (rate limit, trusted
  documents): those carry a stand-in document, not the text's.

graphql-core never changes a DocumentNode while executing it, so one parsed document serves
any number of requests at once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from app.api.limits import is_refused
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

# Distinct document texts remembered per schema: the committed operations are about 40; the
# rest is room for other clients' documents. A text is at most MAX_TOKENS tokens.
DOCUMENT_CACHE_SIZE = 512
# Arguments that bound how many objects a list field returns: a connection's `first`, and the
# `limit` of relationGraph (its nodes and its edges are each at most `limit`).
PAGE_ARGUMENTS = ("first", "limit")


@dataclass(slots=True)
class PreparedDocument:
    """A parsed document and, once validated, its validation errors (empty: valid)."""

    document: DocumentNode
    errors: list[GraphQLError] | None = None


class DocumentCache:
    """An LRU of prepared documents by text (one per schema: its rules are fixed)."""

    def __init__(self, size: int = DOCUMENT_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[str, PreparedDocument] = OrderedDict()

    def get(self, text: str) -> PreparedDocument | None:
        """The prepared document of ``text``, if remembered (and mark it recently used)."""
        entry = self._entries.get(text)
        if entry is not None:
            self._entries.move_to_end(text)
        return entry

    def put(self, text: str, document: DocumentNode) -> PreparedDocument:
        """Remember ``document`` as the parse of ``text``; forgets the least recently used."""
        entry = self._entries[text] = PreparedDocument(document)
        self._entries.move_to_end(text)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return entry

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True, slots=True)
class ComplexityLimit:
    """The complexity limit and the page sizes it assumes."""

    max_complexity: int
    max_page_size: int
    default_page_size: int

    def errors(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]
    ) -> list[GraphQLError]:
        """QUERY_TOO_COMPLEX for each operation of ``document`` estimated to return more than
        ``max_complexity`` objects with these variables."""
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        found: list[GraphQLError] = []
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            root = _root_type(schema, definition.operation)
            if root is None:
                continue
            cost = self._cost(definition.selection_set, root, 1, schema, fragments, frozenset(), variables)
            if cost > self.max_complexity:
                found.append(
                    GraphQLError(
                        f"the operation is estimated to return {cost} objects; the limit is "
                        f"{self.max_complexity}: lower `first` or select less",
                        definition,
                        extensions={
                            "code": "QUERY_TOO_COMPLEX",
                            "complexity": cost,
                            "limit": self.max_complexity,
                        },
                    )
                )
        return found

    def _page_size(self, node: FieldNode, variables: Mapping[str, Any]) -> int:
        for arg in node.arguments or ():
            if arg.name.value not in PAGE_ARGUMENTS:
                continue
            value: Any = None
            if isinstance(arg.value, IntValueNode):
                value = int(arg.value.value)
            elif isinstance(arg.value, VariableNode):
                value = variables.get(arg.value.name.value)
            # Too-large values are the page-size error's business, not this limit's.
            if isinstance(value, int) and value >= 0:
                return min(value, self.max_page_size)
            return self.default_page_size
        return self.default_page_size

    def _cost(
        self,
        selection_set: SelectionSetNode | None,
        parent: Any,
        multiplier: int,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        seen: frozenset[str],
        variables: Mapping[str, Any],
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.selection_set is None or not isinstance(
                    parent, GraphQLObjectType | GraphQLInterfaceType
                ):
                    continue  # leaves are free: the objects are what costs
                field_def = parent.fields.get(selection.name.value)
                if field_def is None:
                    continue
                child_type = get_named_type(field_def.type)
                pages = (
                    self._page_size(selection, variables)
                    if any(name in field_def.args for name in PAGE_ARGUMENTS)
                    else 1
                )
                total += multiplier
                total += self._cost(
                    selection.selection_set,
                    child_type,
                    multiplier * pages,
                    schema,
                    fragments,
                    seen,
                    variables,
                )
            elif isinstance(selection, InlineFragmentNode):
                target = (
                    schema.get_type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                total += self._cost(
                    selection.selection_set, target, multiplier, schema, fragments, seen, variables
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is None or name in seen:
                    continue
                target = schema.get_type(fragment.type_condition.name.value)
                total += self._cost(
                    fragment.selection_set, target, multiplier, schema, fragments, seen | {name}, variables
                )
        return total


def _root_type(schema: GraphQLSchema, operation: OperationType) -> GraphQLObjectType | None:
    if operation is OperationType.QUERY:
        return schema.query_type
    if operation is OperationType.MUTATION:
        return schema.mutation_type
    return schema.subscription_type


class PreparedDocuments(SchemaExtension):
    """Takes parsed and validated documents from ``cache`` and applies ``limit`` per request.

    Register it after every extension that adds validation rules or refuses operations
    unparsed: its ``on_parse`` and ``on_validate`` run after their ``on_operation``.
    """

    def __init__(self, *, cache: DocumentCache, limit: ComplexityLimit) -> None:
        self.cache = cache
        self.limit = limit
        self._entry: PreparedDocument | None = None

    def on_parse(self) -> Iterator[None]:
        execution = self.execution_context
        text = execution.query
        if is_refused(execution) or execution.graphql_document is not None or not text:
            yield
            return
        self._entry = self.cache.get(text)
        if self._entry is not None:
            # strawberry parses only when no document is set.
            execution.graphql_document = self._entry.document
            yield
            return
        yield
        if execution.graphql_document is not None and not is_refused(execution):
            self._entry = self.cache.put(text, execution.graphql_document)

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        entry = self._entry
        if entry is None or is_refused(execution) or execution.graphql_document is not entry.document:
            # Not ours to prepare: strawberry validates it as usual (with no complexity rule,
            # which only refused operations and stand-ins reach).
            yield
            return
        if entry.errors is None:
            entry.errors = validate_document(
                execution.schema._schema, entry.document, execution.validation_rules
            )
        # First, as the complexity rule reported when it was a validation rule (in its
        # constructor, before the visit).
        errors = self.limit.errors(execution.schema._schema, entry.document, execution.variables or {})
        # Set (even when empty), strawberry does not validate again.
        execution.pre_execution_errors = [*errors, *entry.errors]
        yield
