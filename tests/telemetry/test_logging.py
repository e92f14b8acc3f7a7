"""Structured logs carry trace/span/job/asset ids; secrets and media never reach the output,
however they were logged."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.core.settings import Settings
from app.core.telemetry import tracing
from app.core.telemetry.logging import RedactingFilter, bind_log_context, configure_logging, redact

API_KEY = "mkg_a1b2c3d4_S3cr3t-T0ken_with_underscores"
DB_PASSWORD = "hunter2-db-pass"
BEARER = "eyJhbGciOiJIUzI1NiJ9.payload.signature"
MEDIA = bytes(range(256)) * 8
SECRETS = (API_KEY, "S3cr3t-T0ken", DB_PASSWORD, BEARER, "c2VjcmV0LWJhc2lj")


@pytest.fixture
def log_output(tmp_path: Path) -> Iterator[tuple[io.StringIO, logging.Logger]]:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(Settings(data_dir=tmp_path, log_json=True, log_level="DEBUG"), stream=stream)
    try:
        yield stream, logging.getLogger("mediakg.test")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_records_carry_trace_and_job_ids(
    log_output: tuple[io.StringIO, logging.Logger], spans: InMemorySpanExporter
) -> None:
    stream, log = log_output
    with (
        tracing.tracer().start_as_current_span("stage") as span,
        bind_log_context(job_id="job-1", asset_id="asset-9"),
    ):
        log.info("stage %s started", "probe", extra={"attempt": 2})
    log.info("outside")

    inside, outside = _lines(stream)
    context = span.get_span_context()
    assert inside["message"] == "stage probe started"
    assert inside["level"] == "INFO"
    assert inside["logger"] == "mediakg.test"
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert (inside["job_id"], inside["asset_id"], inside["attempt"]) == ("job-1", "asset-9", 2)
    assert "trace_id" not in outside
    assert "job_id" not in outside


def test_secrets_and_media_never_appear(log_output: tuple[io.StringIO, logging.Logger]) -> None:
    stream, log = log_output
    log.info("api key %s accepted", API_KEY)
    log.info(f"inline key {API_KEY}")
    log.warning("connecting to %s", f"postgresql+asyncpg://mediakg:{DB_PASSWORD}@db:5432/mediakg")
    log.info("request headers %s", {"Authorization": f"Bearer {BEARER}", "Accept": "application/json"})
    log.info("raw header line Authorization: Basic c2VjcmV0LWJhc2lj")
    log.info("query string /graphql?api_key=%s&first=10", API_KEY)
    log.info("config", extra={"settings": {"password": DB_PASSWORD, "token": BEARER, "nested": [API_KEY]}})
    log.info("login", extra={"password": DB_PASSWORD})
    log.info("blob %r", MEDIA)
    log.info("upload", extra={"body": MEDIA})
    log.info("inline image data:image/png;base64,%s", "iVBORw0KGgo" * 40)
    try:
        raise PermissionError(f"key {API_KEY} rejected for redis://:{DB_PASSWORD}@cache:6379/0")
    except PermissionError:
        log.exception("auth failed")

    output = stream.getvalue()
    for secret in SECRETS:
        assert secret not in output
    assert "\\u0000\\u0001\\u0002" not in output
    assert "\\x00\\x01\\x02" not in output
    assert "iVBORw0KGgo" not in output
    lines = _lines(stream)
    assert len(lines) == 12  # every record still logged, only redacted
    # Enough stays to debug with: which header, which host, how big the blob was.
    assert "Bearer [REDACTED]" in output
    assert "@db:5432/mediakg" in output
    assert "<2048 bytes>" in output
    assert "PermissionError" in str(lines[-1]["exception"])


def test_text_format_redacts_too(tmp_path: Path) -> None:
    stream = io.StringIO()
    handler = configure_logging(Settings(data_dir=tmp_path, log_json=False), stream=stream)
    try:
        with bind_log_context(job_id="j7"):
            logging.getLogger("mediakg.test").warning("key=%s", API_KEY, extra={"api_key": API_KEY})
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue()
    assert API_KEY not in line
    assert "job_id=j7" in line
    assert "mediakg.test" in line


def test_configure_logging_is_idempotent(tmp_path: Path) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    first = configure_logging(Settings(data_dir=tmp_path), stream=io.StringIO())
    second = configure_logging(Settings(data_dir=tmp_path), stream=io.StringIO())
    try:
        assert first not in root.handlers
        assert second in root.handlers
        assert len(root.handlers) == len(before) + 1
    finally:
        root.removeHandler(second)


def test_filter_for_foreign_handlers() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "GET %s", (f"/x?token={BEARER}",), None
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "GET /x?token=[REDACTED]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tokens=5 passwords_checked=3", "tokens=5 passwords_checked=3"),  # not secrets
        ('{"password": "x1"}', '{"password": "[REDACTED]"}'),
        ("amqp://guest:guest@127.0.0.1:5672/", "amqp://guest:[REDACTED]@127.0.0.1:5672/"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_redaction_rules(text: str, expected: str) -> None:
    assert redact(text) == expected
