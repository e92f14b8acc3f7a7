"""Protection of the server from expensive documents, and the error policy.

Limits run before execution, so a refused document costs no database work:
- tokens (parse time): a cap on document size, so a huge document is not even parsed;
- depth (strawberry's QueryDepthLimiter) and aliases (MaxAliasesLimiter), from settings;
- complexity: the estimated number of objects a document returns, multiplying each
  connection by its ``first`` (the page-size cap if larger, the default if absent).

Errors: client errors keep their message and get a stable ``extensions.code``; every other
error is masked to "Internal server error" with the request id, and logged with it.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types import ExecutionContext

from app.core.errors import DomainError
from graphql import (
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
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    parse,
)

log = logging.getLogger(__name__)

# Largest document accepted, in lexical tokens: far above any real operation (the committed
# operations are below 400) and far below what makes parsing itself a cost.
MAX_TOKENS = 10_000

MASKED_MESSAGE = "Internal server error"

# strawberry's depth, alias and token limiters report plain GraphQL errors; these message
# fragments (pinned by tests/api/test_errors.py) give them stable codes.
_CODED_MESSAGES = (
    ("exceeds maximum operation depth", "QUERY_TOO_DEEP"),
    ("aliases found. Allowed:", "TOO_MANY_ALIASES"),
    ("Document contains more than", "DOCUMENT_TOO_LARGE"),
    # graphql-core's variable coercion (unknown enum value, wrong scalar type, ...).
    ("got invalid value", "BAD_USER_INPUT"),
)


def complexity_rule(
    *, max_complexity: int, max_page_size: int, default_page_size: int, variables: Mapping[str, Any]
) -> type[ValidationRule]:
    """A validation rule refusing operations estimated to return more than ``max_complexity``
    objects. Built per request because ``first`` often comes from variables."""

    class ComplexityRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            schema = context.schema
            fragments = {
                d.name.value: d for d in context.document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            for definition in context.document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                root = _root_type(schema, definition.operation)
                if root is None:
                    continue
                cost = _selection_cost(definition.selection_set, root, 1, schema, fragments, frozenset())
                if cost > max_complexity:
                    context.report_error(
                        GraphQLError(
                            f"the operation is estimated to return {cost} objects; the limit is "
                            f"{max_complexity}: lower `first` or select less",
                            definition,
                            extensions={
                                "code": "QUERY_TOO_COMPLEX",
                                "complexity": cost,
                                "limit": max_complexity,
                            },
                        )
                    )

    def _page_size(node: FieldNode) -> int:
        for arg in node.arguments or ():
            if arg.name.value != "first":
                continue
            value: Any = None
            if isinstance(arg.value, IntValueNode):
                value = int(arg.value.value)
            elif isinstance(arg.value, VariableNode):
                value = variables.get(arg.value.name.value)
            # Too-large values are the page-size error's business, not this limit's.
            return min(value, max_page_size) if isinstance(value, int) and value >= 0 else default_page_size
        return default_page_size

    def _selection_cost(
        selection_set: SelectionSetNode | None,
        parent: Any,
        multiplier: int,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        seen: frozenset[str],
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
                pages = _page_size(selection) if "first" in field_def.args else 1
                total += multiplier
                total += _selection_cost(
                    selection.selection_set, child_type, multiplier * pages, schema, fragments, seen
                )
            elif isinstance(selection, InlineFragmentNode):
                target = (
                    schema.get_type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                total += _selection_cost(selection.selection_set, target, multiplier, schema, fragments, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is None or name in seen:
                    continue
                target = schema.get_type(fragment.type_condition.name.value)
                total += _selection_cost(
                    fragment.selection_set, target, multiplier, schema, fragments, seen | {name}
                )
        return total

    return ComplexityRule


def _root_type(schema: GraphQLSchema, operation: OperationType) -> GraphQLObjectType | None:
    if operation is OperationType.QUERY:
        return schema.query_type
    if operation is OperationType.MUTATION:
        return schema.mutation_type
    return schema.subscription_type


class ComplexityLimiter(SchemaExtension):
    """Adds the complexity rule (with this request's variables) to validation."""

    def __init__(self, *, max_complexity: int, max_page_size: int, default_page_size: int) -> None:
        self.max_complexity = max_complexity
        self.max_page_size = max_page_size
        self.default_page_size = default_page_size

    def on_operation(self) -> Iterator[None]:
        rule = complexity_rule(
            max_complexity=self.max_complexity,
            max_page_size=self.max_page_size,
            default_page_size=self.default_page_size,
            variables=self.execution_context.variables or {},
        )
        self.execution_context.validation_rules = (*self.execution_context.validation_rules, rule)
        yield


_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")


def refuse_unparsed(execution_context: ExecutionContext, error: GraphQLError) -> None:
    """Answer the operation with ``error`` alone, without parsing or running its document.

    Called from an extension's ``on_operation``: a stand-in document (under the operation name
    the client gave) takes the document's place and validation is marked done with ``error``,
    so strawberry answers with a request error over HTTP and WebSocket alike (an exception
    raised there would end a WebSocket operation without any error message).
    """
    name = execution_context.operation_name
    stand_in = f"query {name} {{ __typename }}" if name and _NAME.match(name) else "{ __typename }"
    execution_context.graphql_document = parse(stand_in)
    execution_context.pre_execution_errors = [error]


def is_refused(execution_context: ExecutionContext) -> bool:
    """Whether an earlier extension refused the operation (``refuse_unparsed``)."""
    return execution_context.pre_execution_errors is not None


def is_client_error(error: GraphQLError) -> bool:
    """Whether the client caused ``error`` (its message is safe and useful to show)."""
    original = error.original_error
    if original is None:
        return True  # syntax, validation and variable coercion errors
    return isinstance(original, DomainError | GraphQLError)


def _coded(error: GraphQLError) -> GraphQLError:
    if error.extensions and "code" in error.extensions:
        return error
    original = error.original_error
    code = None
    if isinstance(original, DomainError):
        code = original.code
    else:
        code = next((c for fragment, c in _CODED_MESSAGES if fragment in error.message), None)
        if code is None:
            code = "BAD_USER_INPUT" if original is not None else "GRAPHQL_VALIDATION_FAILED"
    extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
    if isinstance(original, DomainError) and original.field:
        extensions["field"] = list(original.field)
    retry_after = getattr(original, "retry_after_s", None)
    if isinstance(retry_after, int | float):
        # Retryable refusals (a busy database, a full queue) say when to retry.
        extensions["retryAfterSeconds"] = math.ceil(retry_after)
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


class ErrorPolicy(MaskErrors):
    """Codes client errors, masks the rest with the request id (and logs them with it)."""

    def __init__(self) -> None:
        super().__init__(
            should_mask_error=lambda error: not is_client_error(error), error_message=MASKED_MESSAGE
        )

    def _request_id(self) -> str | None:
        context = getattr(self.execution_context, "context", None)
        return getattr(context, "request_id", None)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = self._request_id()
        log.error(
            "unexpected error in %s (request %s)",
            ".".join(str(p) for p in error.path or ()) or "operation",
            request_id,
            exc_info=error.original_error,
        )
        return GraphQLError(
            MASKED_MESSAGE,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self.anonymise_error(e) if self.should_mask_error(e) else _coded(e) for e in errors]
