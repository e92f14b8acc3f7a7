"""Typed domain errors. The API maps each to a GraphQL error type with the same code."""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure a caller can act on: it has a stable code and a clear message."""

    code = "INTERNAL"

    def __init__(self, message: str, *, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(DomainError):
    """The named entity does not exist (or belongs to another tenant)."""

    code = "NOT_FOUND"


class PathNotAllowedError(DomainError):
    """A local path lies outside the configured allowed roots."""

    code = "PATH_NOT_ALLOWED"


class UnreadableFileError(DomainError):
    """A file is missing, not a regular file or cannot be read."""

    code = "UNREADABLE_FILE"


class EmptyFileError(DomainError):
    """A file or upload has no content."""

    code = "EMPTY_FILE"


class FileTooLargeError(DomainError):
    """A file or upload exceeds the size limit (``max_bytes``, when the raiser knows it)."""

    code = "FILE_TOO_LARGE"

    def __init__(self, message: str, *, max_bytes: int | None = None, field: list[str] | None = None) -> None:
        super().__init__(message, field=field)
        self.max_bytes = max_bytes


class UnsupportedMediaError(DomainError):
    """The content is of no kind the service can analyse."""

    code = "UNSUPPORTED_MEDIA"


class UrlNotAllowedError(DomainError):
    """A URL may not be fetched: its scheme, credentials, or an address its host resolves to."""

    code = "URL_NOT_ALLOWED"


class FetchFailedError(DomainError):
    """Fetching a URL failed: no answer, an HTTP error status, too many redirects or too slow."""

    code = "FETCH_FAILED"


class IdempotencyConflictError(DomainError):
    """An idempotency key was reused with different content or parameters."""

    code = "IDEMPOTENCY_CONFLICT"


class InvalidInputError(DomainError):
    """An input value is malformed or out of range."""

    code = "INVALID_INPUT"


class InvalidStateError(DomainError):
    """The entity is in a state where the action makes no sense (e.g. cancel a finished job)."""

    code = "INVALID_STATE"


class BackpressureError(DomainError):
    """The queue is full; try again after ``retry_after_s`` seconds."""

    code = "BACKPRESSURE"

    def __init__(self, message: str, *, retry_after_s: float, field: list[str] | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s


class DatabaseBusyError(BackpressureError):
    """A write could not take the database's write lock in time (SQLite: other writes held it);
    nothing was written, try again after ``retry_after_s`` seconds."""

    code = "DATABASE_BUSY"


class RateLimitedError(DomainError):
    """The caller used up a rate limit; try again after ``retry_after_s`` seconds."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after_s: float, field: list[str] | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s
