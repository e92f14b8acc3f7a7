"""Structured logs: one JSON object per line with the current trace and span ids and the job
and asset being worked on, and with secrets and media content redacted.

Redaction happens in the formatter, on the final text of every field (message, exception,
extras), so it holds however a secret reached the record: as the message, an argument, an
``extra=`` field, an exception message or a traceback. :class:`RedactingFilter` applies the
same rules for handlers this module does not format (e.g. a server's access log).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from app.core.telemetry.tracing import current_ids

if TYPE_CHECKING:
    from app.core.settings import Settings

REDACTED = "[REDACTED]"

_SECRET_KEYS = (
    r"password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|client[_-]?secret|"
    r"private[_-]?key|credentials?|session[_-]?id|cookie|set-cookie"
)
_SECRET_KEY = re.compile(rf"(?i)^(?:{_SECRET_KEYS}|(?:proxy-)?authorization)$")
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # mediakg API keys ("mkg_<prefix>_<secret>"): nothing after mkg_ is kept, since the
    # secret part may itself contain "_".
    (re.compile(r"\bmkg_[A-Za-z0-9_\-]+"), f"mkg_{REDACTED}"),
    # Credentials inside URLs: scheme://user:password@host
    (re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^\s/:@]*):([^\s/@]+)@"), rf"\1\2:{REDACTED}@"),
    # Authorization headers in any rendering (header line, dict repr, JSON), scheme kept.
    (
        re.compile(
            r"(?i)((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)(bearer\s+|basic\s+|token\s+|digest\s+)?"
            r"[^\s\"',}]+"
        ),
        rf"\1\2{REDACTED}",
    ),
    # key=value / "key": "value" pairs whose key names a secret.
    (re.compile(rf"(?i)\b((?:{_SECRET_KEYS})[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}}]+"), rf"\1{REDACTED}"),
    # Media content: data: URLs, bytes reprs and long base64 runs.
    (re.compile(r"data:[\w/+.\-]+;base64,[A-Za-z0-9+/=]+"), "data:[MEDIA]"),
    (re.compile(r"""b(['"])(?:\\.|(?!\1).){32,}?\1"""), "b'[MEDIA]'"),
    (re.compile(r"[A-Za-z0-9+/=_\-]{200,}"), "[MEDIA]"),
)


def redact(text: str) -> str:
    """``text`` with API keys, credentials, authorization values and media content replaced."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def _safe(value: Any) -> Any:
    """A JSON-ready, redacted copy of a log field."""
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"  # never the content
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        # A structured field's key says what it is: {"password": "..."} has no pattern to match.
        return {str(k): REDACTED if _SECRET_KEY.search(str(k)) else _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_safe(v) for v in value]
    return redact(str(value))


# --- context ---------------------------------------------------------------------------

_context: ContextVar[Mapping[str, str]] = ContextVar("mediakg_log_context", default=MappingProxyType({}))


@contextlib.contextmanager
def bind_log_context(**fields: object) -> Iterator[None]:
    """Add fields (``job_id=``, ``asset_id=``, ``stage=``...) to every log record of the block."""
    token = _context.set({**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _record_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    trace_id, span_id = current_ids()
    if trace_id is not None:
        fields["trace_id"] = trace_id
        fields["span_id"] = span_id
    fields.update(_context.get())
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_"):
            fields[key] = value
    return fields


def _message(record: logging.LogRecord) -> str:
    # Bytes arguments are replaced before formatting: "%r" of media would print the content.
    if isinstance(record.args, tuple):
        record.args = tuple(
            f"<{len(a)} bytes>" if isinstance(a, bytes | bytearray | memoryview) else a for a in record.args
        )
    return record.getMessage()


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, trace/span/job/asset ids, extras."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        doc.update(_record_fields(record))
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(_safe(doc), ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines (development), with the same ids and the same redaction."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.msg, record.args = _message(record), None
        line = super().format(record)
        fields = _record_fields(record)
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in _safe(fields).items())
        return redact(line)


class RedactingFilter(logging.Filter):
    """Redacts a record's message in place, for handlers with someone else's formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(_message(record)), None
        return True


_HANDLER_MARK = "_mediakg_handler"


def configure_logging(settings: Settings, *, stream: Any = None) -> logging.Handler:
    """Replace the root handler this module installed before (idempotent) with one writing
    JSON (``log_json``) or text to ``stream`` (stderr) at ``log_level``."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_json else TextFormatter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    return handler
