"""Errors a client can act on.

Two shapes, on purpose:
- mutations return expected failures as members of their result union, each a type that
  implements ``UserError`` (``message``, ``code``, ``field``): clients switch on
  ``__typename`` and codegen gives them exhaustive types;
- queries and subscriptions cannot return unions for every field, so their expected failures
  (bad ids, page too large, bad cursor) are GraphQL errors with ``extensions.code``.
Either way resolvers just raise a ``DomainError``: ``user_error`` below picks the union member,
and for queries and subscriptions the error policy (``ErrorPolicy`` in ``app/api/limits.py``)
copies its code and field into the error's extensions. Anything else is unexpected and masked.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from typing import Any

import strawberry

from app.api.enums import register
from app.api.scalars import BigInt
from app.core import errors as domain


class MalformedIdError(domain.DomainError):
    """An ID is not one this API issued (not base64 of ``Type:uuid``)."""

    code = "MALFORMED_ID"


class WrongIdTypeError(domain.DomainError):
    """An ID is well formed but names another type than the argument expects."""

    code = "WRONG_ID_TYPE"


class BatchTooLargeError(domain.DomainError):
    """A list input has more items than allowed."""

    code = "BATCH_TOO_LARGE"


class PageSizeError(domain.DomainError):
    """``first`` is negative or above the page-size cap."""

    code = "PAGE_SIZE_EXCEEDED"


class InvalidCursorError(domain.DomainError):
    """A cursor was not issued by this connection (or by this ordering of it)."""

    code = "INVALID_CURSOR"


class SearchUnavailableError(domain.DomainError):
    """The search backend cannot answer now (not configured, unreachable, nothing indexed)."""

    code = "SEARCH_UNAVAILABLE"


class UserErrorCode(enum.Enum):
    """Every ``UserError.code``; one per error type."""

    NOT_FOUND = "NOT_FOUND"
    PATH_NOT_ALLOWED = "PATH_NOT_ALLOWED"
    UNREADABLE_FILE = "UNREADABLE_FILE"
    EMPTY_FILE = "EMPTY_FILE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    UNSUPPORTED_MEDIA = "UNSUPPORTED_MEDIA"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_STATE = "INVALID_STATE"
    BACKPRESSURE = "BACKPRESSURE"
    MALFORMED_ID = "MALFORMED_ID"
    WRONG_ID_TYPE = "WRONG_ID_TYPE"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    URL_NOT_ALLOWED = "URL_NOT_ALLOWED"
    FETCH_FAILED = "FETCH_FAILED"
    RATE_LIMITED = "RATE_LIMITED"
    FORBIDDEN = "FORBIDDEN"


register(
    UserErrorCode,
    name="UserErrorCode",
    description="Stable machine-readable codes of user errors.",
    values={
        "NOT_FOUND": "The entity does not exist, is deleted, or is not visible to the caller.",
        "PATH_NOT_ALLOWED": "The local path lies outside the allowed ingestion roots.",
        "UNREADABLE_FILE": "The file does not exist, is not a regular file, or cannot be read.",
        "EMPTY_FILE": "The file or upload holds no bytes.",
        "FILE_TOO_LARGE": "The file or upload exceeds the size limit (see maxBytes).",
        "UNSUPPORTED_MEDIA": "The content is of a kind the service cannot analyse.",
        "IDEMPOTENCY_CONFLICT": "The idempotency key was used before with other content.",
        "INVALID_INPUT": "An argument is out of range or malformed (see field).",
        "INVALID_STATE": "The entity is not in a state that allows the operation (e.g. a job still running).",
        "BACKPRESSURE": "The queue is full; retry after retryAfterSeconds.",
        "MALFORMED_ID": "The ID is not a global ID this API issued.",
        "WRONG_ID_TYPE": "The ID is valid but names an entity of another type than the argument expects.",
        "BATCH_TOO_LARGE": "The batch holds more items than allowed.",
        "URL_NOT_ALLOWED": "The URL may not be fetched: not http(s), with credentials, or its host resolves "
        "to a non-public address.",
        "FETCH_FAILED": "Fetching the URL failed: no answer, an HTTP error status, too many redirects or "
        "too slow.",
        "RATE_LIMITED": "The caller used up a rate limit; retry after retryAfterSeconds.",
        "FORBIDDEN": "The API key lacks the scope the operation needs (see docs/security.md).",
    },
)


@strawberry.interface(name="UserError", description="A failure the caller caused and can correct.")
class UserErrorType:
    """Fields every user error has."""

    message: str = strawberry.field(description="What went wrong, in a sentence for humans.")
    code: UserErrorCode = strawberry.field(description="Stable code to branch on.")
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault (e.g. ["input", "source", "path"]), if one is.'
    )


@strawberry.type(name="NotFound", description="The entity does not exist or is not visible to the caller.")
class NotFoundErrorType(UserErrorType):
    """NotFoundError."""


@strawberry.type(
    name="PathNotAllowed", description="The local path lies outside the allowed ingestion roots."
)
class PathNotAllowedErrorType(UserErrorType):
    """PathNotAllowedError."""


@strawberry.type(
    name="UnreadableFile", description="The file is missing, not a regular file or cannot be read."
)
class UnreadableFileErrorType(UserErrorType):
    """UnreadableFileError."""


@strawberry.type(name="EmptyFile", description="The file or upload has no content.")
class EmptyFileErrorType(UserErrorType):
    """EmptyFileError."""


@strawberry.type(name="FileTooLarge", description="The file or upload exceeds the size limit.")
class FileTooLargeErrorType(UserErrorType):
    """FileTooLargeError."""

    max_bytes: BigInt = strawberry.field(description="The largest accepted size in bytes.")


@strawberry.type(name="UnsupportedMedia", description="The content is of no kind the service can analyse.")
class UnsupportedMediaErrorType(UserErrorType):
    """UnsupportedMediaError."""


@strawberry.type(
    name="IdempotencyConflict",
    description="The idempotency key was used before with different content or parameters.",
)
class IdempotencyConflictErrorType(UserErrorType):
    """IdempotencyConflictError."""


@strawberry.type(name="InvalidInput", description="An input value is malformed or out of range.")
class InvalidInputErrorType(UserErrorType):
    """InvalidInputError."""


@strawberry.type(
    name="InvalidState", description="The entity is in a state where this action makes no sense."
)
class InvalidStateErrorType(UserErrorType):
    """InvalidStateError."""


@strawberry.type(name="Backpressure", description="The job queue is full: retry after the given delay.")
class BackpressureErrorType(UserErrorType):
    """BackpressureError."""

    retry_after_seconds: float = strawberry.field(description="Seconds to wait before retrying.")


@strawberry.type(
    name="UrlNotAllowed",
    description="The URL may not be fetched: not http(s), with credentials, or its host resolves to a "
    "loopback, private, link-local, multicast, reserved or cloud-metadata address.",
)
class UrlNotAllowedErrorType(UserErrorType):
    """UrlNotAllowedError."""


@strawberry.type(
    name="FetchFailed",
    description="Fetching the URL failed: no answer, an HTTP error status, too many redirects or too slow.",
)
class FetchFailedErrorType(UserErrorType):
    """FetchFailedError."""


@strawberry.type(
    name="RateLimited",
    description="The caller used up a rate limit (per minute): retry after the given delay.",
)
class RateLimitedErrorType(UserErrorType):
    """RateLimitedError."""

    retry_after_seconds: float = strawberry.field(description="Seconds until the limit's window ends.")


@strawberry.type(name="MalformedId", description="The ID is not one this API issued.")
class MalformedIdErrorType(UserErrorType):
    """MalformedIdError."""


@strawberry.type(name="WrongIdType", description="The ID belongs to another type than the field expects.")
class WrongIdTypeErrorType(UserErrorType):
    """WrongIdTypeError."""


@strawberry.type(name="BatchTooLarge", description="The list input has more items than allowed.")
class BatchTooLargeErrorType(UserErrorType):
    """BatchTooLargeError."""

    max_items: int = strawberry.field(description="The most items one call accepts.")


@strawberry.type(name="Forbidden", description="The API key lacks the scope this operation needs.")
class ForbiddenErrorType(UserErrorType):
    """ForbiddenError."""


_SIMPLE: dict[type[domain.DomainError], tuple[type[UserErrorType], UserErrorCode]] = {
    domain.NotFoundError: (NotFoundErrorType, UserErrorCode.NOT_FOUND),
    domain.PathNotAllowedError: (PathNotAllowedErrorType, UserErrorCode.PATH_NOT_ALLOWED),
    domain.UnreadableFileError: (UnreadableFileErrorType, UserErrorCode.UNREADABLE_FILE),
    domain.EmptyFileError: (EmptyFileErrorType, UserErrorCode.EMPTY_FILE),
    domain.UnsupportedMediaError: (UnsupportedMediaErrorType, UserErrorCode.UNSUPPORTED_MEDIA),
    domain.IdempotencyConflictError: (IdempotencyConflictErrorType, UserErrorCode.IDEMPOTENCY_CONFLICT),
    domain.InvalidInputError: (InvalidInputErrorType, UserErrorCode.INVALID_INPUT),
    domain.InvalidStateError: (InvalidStateErrorType, UserErrorCode.INVALID_STATE),
    domain.UrlNotAllowedError: (UrlNotAllowedErrorType, UserErrorCode.URL_NOT_ALLOWED),
    domain.FetchFailedError: (FetchFailedErrorType, UserErrorCode.FETCH_FAILED),
    MalformedIdError: (MalformedIdErrorType, UserErrorCode.MALFORMED_ID),
    WrongIdTypeError: (WrongIdTypeErrorType, UserErrorCode.WRONG_ID_TYPE),
}


def field_mapper(
    prefix: Sequence[str], renames: dict[str, list[str]]
) -> Callable[[domain.DomainError], domain.DomainError]:
    """Rewrites a domain error's field (named after service or argument names) into the input
    path: ``prefix``, then the first name renamed (``renames``), then the rest."""

    def remap(exc: domain.DomainError) -> domain.DomainError:
        if exc.field:
            head, *rest = exc.field
            exc.field = [*prefix, *renames.get(head, [head]), *rest]
        return exc

    return remap


def user_error(
    exc: domain.DomainError,
    *,
    allowed: tuple[type[UserErrorType], ...],
    max_bytes: int = 0,
    max_items: int = 0,
) -> Any:
    """The union member for ``exc``; re-raises it when the mutation does not declare that error
    (an undeclared error is a bug and must surface as a masked internal error, not a wrong type).

    Typed ``Any`` because each mutation's result union is its own type; membership of that
    union is what ``allowed`` checks at run time.
    """
    result: UserErrorType
    if isinstance(exc, domain.BackpressureError):
        result = BackpressureErrorType(
            message=exc.message,
            code=UserErrorCode.BACKPRESSURE,
            field=exc.field,
            retry_after_seconds=exc.retry_after_s,
        )
    elif isinstance(exc, domain.RateLimitedError):
        result = RateLimitedErrorType(
            message=exc.message,
            code=UserErrorCode.RATE_LIMITED,
            field=exc.field,
            retry_after_seconds=math.ceil(exc.retry_after_s),
        )
    elif isinstance(exc, domain.FileTooLargeError):
        result = FileTooLargeErrorType(
            message=exc.message,
            code=UserErrorCode.FILE_TOO_LARGE,
            field=exc.field,
            max_bytes=BigInt(exc.max_bytes if exc.max_bytes is not None else max_bytes),
        )
    elif isinstance(exc, BatchTooLargeError):
        result = BatchTooLargeErrorType(
            message=exc.message, code=UserErrorCode.BATCH_TOO_LARGE, field=exc.field, max_items=max_items
        )
    else:
        for cls in type(exc).__mro__:
            if cls in _SIMPLE:
                gql_type, code = _SIMPLE[cls]
                result = gql_type(message=exc.message, code=code, field=exc.field)
                break
        else:
            raise exc
    if not isinstance(result, allowed):
        raise exc
    return result
