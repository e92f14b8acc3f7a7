"""Protection of the server from expensive documents, and the error policy.

Limits run before execution, so a refused document costs no database work:
- tokens (parse time): a cap on document size, so a huge document is not even parsed;
- depth (strawberry's QueryDepthLimiter) and aliases (MaxAliasesLimiter), from settings;
- complexity: the estimated number of objects a document returns, multiplying each
  connection by its ``first`` (the page-size cap if larger, the default if absent); computed
  per request from the cached document and the request's variables (app/api/documents.py).

Errors: client errors keep their message and get a stable ``extensions.code``; every other
error is masked to "Internal server error" with the request id, and logged with it.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from app.core.errors import DomainError
from graphql import (
    GraphQLError,
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
