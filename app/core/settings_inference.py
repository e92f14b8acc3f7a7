"""Settings of model inference (local or Triton), telemetry and cost: part of :class:`Settings`.

A mixin of plain fields, so ``app.core.settings`` stays one ``Settings`` class (one environment
prefix, one table in docs/configuration.md) while its module stays readable.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class InferenceTelemetrySettings(BaseModel):
    """Inference backends and models, the bundled Triton server, telemetry, breakers and cost."""

    inference_url: str = Field(
        default="local://",
        description="Model backend: local:// (in-process CPU models) or grpc://triton:8001 / http://triton:8000.",
    )
    cpu_budget: int = Field(
        default=0,
        ge=0,
        description=(
            "Cores the local models of one process may keep busy at once, shared by concurrent "
            "stages (each call takes its thread count from it); 0 means all cores of the machine."
        ),
    )
    warm_models: bool = Field(
        default=True,
        description=(
            "With local:// models, load and warm the stage models when a worker starts (and the "
            "label-name vectors), so the first job does not pay for it."
        ),
    )
    telemetry_url: str = Field(
        default="",
        description="OTLP/HTTP endpoint for traces and metrics; empty disables export.",
    )
    telemetry_console: bool = Field(default=False, description="Print spans to stdout (development only).")
    log_level: str = Field(default="INFO", description="Root log level.")
    log_json: bool = Field(default=True, description="Structured JSON logs.")
    telemetry_service_name: str = Field(
        default="mediakg", description="service.name resource attribute of every span and metric."
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the worker's Prometheus /metrics server binds (the API serves /metrics itself).",
    )
    metrics_port: int = Field(
        default=9464, ge=0, le=65535, description="Port of the worker's /metrics server (0 picks a free one)."
    )
    triton_metrics_url: str = Field(
        default="",
        description=(
            "Triton's Prometheus endpoint. Empty derives it from a grpc:// or http:// inference_url: "
            "triton_metrics_port when that URL is `mediakg triton serve`'s (triton_host and its HTTP or "
            "gRPC port), else port 8002 (Triton's default) on its host; nothing is scraped for local://."
        ),
    )
    triton_scrape_interval_seconds: float = Field(
        default=15.0, gt=0, description="How often Triton's metrics are scraped and re-exported."
    )
    triton_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Deadline of one Triton call, retries included (see triton_timeouts)."
    )
    triton_timeouts: dict[str, float] = Field(
        default_factory=lambda: {"transcribe": 120.0, "ocr": 30.0},
        description="Per task, model name or registry key: a longer deadline (whisper on a long track).",
    )
    triton_retries: int = Field(
        default=2, ge=0, description="Extra attempts after Triton answers UNAVAILABLE, within the deadline."
    )
    triton_startup_timeout_seconds: float = Field(
        default=60.0, gt=0, description="How long start-up waits for Triton before serving locally."
    )
    triton_models: list[str] = Field(
        default_factory=list,
        description="Registry keys deployed on Triton; empty means every model of the repository.",
    )
    triton_host: str = Field(
        default="127.0.0.1",
        description="Address `mediakg triton serve` binds its HTTP, gRPC and metrics endpoints (loopback).",
    )
    triton_http_port: int = Field(
        default=8100, ge=1, le=65535, description="HTTP port of `mediakg triton serve`."
    )
    triton_grpc_port: int = Field(
        default=8101,
        ge=1,
        le=65535,
        description="gRPC port of `mediakg triton serve`: MEDIAKG_INFERENCE_URL=grpc://<triton_host>:<port>.",
    )
    triton_metrics_port: int = Field(
        default=8102,
        ge=1,
        le=65535,
        description="Prometheus port of `mediakg triton serve`: MEDIAKG_TRITON_METRICS_URL=http://<host>:<this>/metrics.",
    )
    triton_env_dir: str = Field(
        default="",
        description=(
            "The tritonserver environment `mediakg triton serve`, the tests and the benchmarks start, "
            "and the one `make triton-env` (scripts/triton-env.sh) builds. Empty means .venv-triton in "
            "the source checkout."
        ),
    )
    breaker_failure_threshold: int = Field(
        default=3, ge=1, description="Consecutive transient Triton failures that open its circuit breaker."
    )
    breaker_open_seconds: float = Field(
        default=10.0, ge=0, description="How long an open breaker sends every call to the local fallback."
    )
    breaker_half_open_probes: int = Field(
        default=1, ge=1, description="Calls let through to Triton to test it once the open period is over."
    )
    inference_fallback_models: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Registry key -> smaller registry key used while Triton is down, "
            'e.g. {"whisper-base:ct2-int8-1": "whisper-tiny.en:ct2-int8-1"}.'
        ),
    )
    shadow_models: dict[str, str] = Field(
        default_factory=dict,
        description="Live registry key -> candidate registry key run in shadow on sampled traffic.",
    )
    shadow_sample_rate: float = Field(
        default=0.05, ge=0, le=1, description="Share of live calls also sent to their shadow candidate."
    )
    drift_baseline_path: Path | None = Field(
        default=None,
        description=(
            "JSON file of per-model drift baselines. Empty means <data_dir>/telemetry/drift-baselines.json."
        ),
    )
    drift_baseline_size: int = Field(
        default=500, ge=10, description="Observations a model's first baseline is captured from."
    )
    drift_window_size: int = Field(
        default=1000, ge=10, description="Most recent observations compared against the baseline."
    )
    drift_min_samples: int = Field(
        default=200, ge=10, description="Observations in the window before a drift value is exported."
    )
    cost_cpu_second_price: float = Field(
        default=0.0000134, ge=0, description="Price of one CPU-second (default: ~0.048 per vCPU-hour)."
    )
    cost_gpu_second_price: float = Field(
        default=0.000146, ge=0, description="Price of one GPU-second (default: ~0.526 per GPU-hour)."
    )
    cost_storage_gb_price: float = Field(
        default=0.023, ge=0, description="Price of one stored GB (default: one month of object storage)."
    )
    cost_currency: str = Field(default="USD", description="Currency the cost prices are in.")
