"""Service settings, read from the environment (prefix ``MEDIAKG_``) and an optional ``.env``.

Every external part is chosen by a URL. The defaults are the embedded ones: a SQLite file,
the in-process broker, the embedded search index, local inference and a local blob
directory, so ``mediakg serve`` runs with no servers at all. Every field is documented in
``docs/configuration.md``; ``tests/test_guards.py`` fails when a field is undocumented.
"""

from __future__ import annotations

import ipaddress
import math
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core.routing_policy import RoutingPolicy
from app.core.settings_inference import InferenceTelemetrySettings


class Settings(BaseSettings, InferenceTelemetrySettings):
    """All configuration of one mediakg process."""

    model_config = SettingsConfigDict(
        env_prefix="MEDIAKG_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_nested_delimiter="__",
    )

    # --- locations -------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path("./var"),
        description="Directory for the embedded SQLite database, blobs and search index.",
    )
    database_url: str = Field(
        default="",
        description=(
            "SQLAlchemy async URL. Empty means sqlite+aiosqlite:///<data_dir>/mediakg.db; "
            "production uses postgresql+asyncpg://..."
        ),
    )
    auto_migrate: bool = Field(
        default=True,
        description=(
            "Run `upgrade head` when serve/ingest/worker start. Production runs "
            "`mediakg db upgrade` as a deploy step and sets this to false."
        ),
    )
    database_pool_size: int = Field(
        default=10, ge=1, description="PostgreSQL pool size (and the SQLite read pool's)."
    )
    database_write_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "SQLite: how long a write waits for the write lock before it fails with the "
            "retryable DATABASE_BUSY error (reads never wait for it)."
        ),
    )
    database_echo: bool = Field(default=False, description="Log every SQL statement.")
    blob_url: str = Field(
        default="",
        description=(
            "Blob storage: file:///dir (a local disk or a volume every pod mounts) or "
            "s3://bucket[/prefix] (credentials from the AWS_* environment or a web identity). "
            "Empty means file://<data_dir>/blobs."
        ),
    )
    blob_s3_endpoint_url: str = Field(
        default="",
        description="Endpoint of an S3-compatible service (e.g. http://minio:9000). Empty means AWS S3.",
    )
    blob_s3_region: str = Field(default="", description="S3 region. Empty means AWS_REGION or us-east-1.")
    blob_s3_part_bytes: int = Field(
        # S3 refuses parts under 5 MiB (but the last).
        default=8 * 1024 * 1024,
        ge=5 * 1024 * 1024,
        description="Part size of multipart uploads to S3.",
    )
    blob_cache_dir: Path | None = Field(
        default=None,
        description="Local copies of S3 blobs for decoders that need a file. Empty: <data_dir>/blob-cache.",
    )
    blob_cache_max_bytes: int = Field(
        default=20 * 1024**3,
        ge=0,
        description="Size above which the least recently used cached S3 blobs are deleted.",
    )
    blob_staging_max_age_minutes: float = Field(
        default=60.0,
        gt=0,
        description="Staged uploads older than this were left by a killed process; the sweep deletes them.",
    )
    blob_orphan_grace_minutes: float = Field(
        default=1440.0,
        gt=0,
        description=(
            "Blobs no row references are deleted by the sweep only once this old (a stage writes its "
            "keyframes before their rows; keep it above the longest stage)."
        ),
    )
    blob_sweep_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often workers and the server sweep staged and orphaned blobs."
    )
    broker_url: str = Field(
        default="memory://",
        description="Job queue: memory:// (in-process), redis://host:port/db or amqp://...",
    )
    pubsub_url: str = Field(
        default="",
        description=(
            "Progress fan-out. Empty follows broker_url: in-process for memory://, "
            "Redis pub/sub for redis://. With amqp:// set a redis:// URL here (serve and worker "
            "refuse to start without one)."
        ),
    )
    redis_key_prefix: str = Field(
        default="mediakg",
        description=(
            "Prefix for every Redis key and channel, and of RabbitMQ queue names (lets deployments "
            "and test runs share one server)."
        ),
    )
    search_url: str = Field(
        default="embedded://",
        description="Search backend: embedded:// (SQLite FTS5 + numpy) or http(s)://elasticsearch:9200.",
    )
    search_ann_threshold: int = Field(
        default=100_000,
        ge=0,
        description=(
            "Embedded search: a vector field with at least this many vectors is searched through an "
            "HNSW graph with int8 vectors (saved under <data_dir>/search/ann), a smaller one exactly; "
            "0 keeps every field exact."
        ),
    )
    search_index_prefix: str = Field(
        default="mediakg", description="Prefix of Elasticsearch index and alias names."
    )
    search_rrf_rank_constant: int = Field(
        default=60,
        ge=0,
        description=(
            "Reciprocal rank fusion constant k (score = weight / (k + rank)); smaller favours top ranks."
        ),
    )
    search_rrf_weights: dict[str, float] = Field(
        default_factory=lambda: {"vector:bridge": 0.5},
        description=(
            "RRF weight per retriever (text, vector:text, vector:visual, vector:bridge, vector:clip) as a "
            'JSON object; default {"vector:bridge": 0.5}. A retriever not named weighs 1.0; 0 keeps it '
            "from moving the order."
        ),
    )
    search_min_score: float | None = Field(
        default=None,
        ge=0,
        description=(
            "Default minimum fused score of a search hit (a query's minScore overrides it); unset keeps all."
        ),
    )
    search_min_relevance: float | None = Field(
        default=0.3,
        ge=0,
        le=1,
        description=(
            "Default cutoff on a search hit's calibrated relevance (0-1) for SEMANTIC and HYBRID searches "
            "that give no minRelevance; unset or 0 keeps all. docs/search.md gives the no-match rate it buys."
        ),
    )
    search_fusion: Literal["rrf", "relevance"] = Field(
        default="rrf",
        description=(
            "How search orders fused hits: rrf (reciprocal rank fusion of the retrievers' ranks) or "
            "relevance (the calibrated relevance, score == relevance)."
        ),
    )
    search_deleted_window_seconds: float = Field(
        default=3600.0,
        ge=0,
        description=(
            "Searches exclude inside the engine the assets deleted this recently (their index removal may "
            "be pending), so counts and facets skip them; keep it above the reconciler's interval."
        ),
    )

    # --- API -----------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Address `mediakg serve` binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `mediakg serve` binds.")
    # --- the CLI as a client of a server (app/entrypoints/remote.py) --------------------
    server: str = Field(
        default="",
        description=(
            "Base URL of the mediakg server the CLI talks to (e.g. https://media.example.com). "
            "Set (or --server): ingest, search query, jobs, reprocess and dead-letters go through "
            "the API with MEDIAKG_API_KEY; empty: ingest and dead-letters work on the database and "
            "broker directly, and API-only commands use this machine's own server."
        ),
    )
    api_key: SecretStr | None = Field(
        default=None,
        description=(
            "API key the CLI sends to MEDIAKG_SERVER (or put it in a file and pass --api-key-file). "
            "Empty against this machine's own server: the admin key file under MEDIAKG_DATA_DIR."
        ),
    )
    graphiql: bool = Field(default=True, description="Serve the GraphiQL IDE at /graphql.")
    default_tenant: str = Field(default="default", description="Tenant slug used when a request names none.")
    allowed_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description=(
            "Directories local-path ingestion may read from (JSON list or comma-separated). "
            "Empty means the current working directory only."
        ),
    )
    auth_disabled: bool = Field(
        default=False,
        description=(
            "Serve without API keys, every caller acting as the default tenant's admin. Refused unless "
            "the server binds only to loopback (docs/security.md)."
        ),
    )
    api_key_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description=(
            "How long a process trusts a verified API key before looking it up again: a key revoked "
            "elsewhere stops working within this time (0 looks every request up)."
        ),
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1"],
        description=(
            "Host header values the API answers (JSON list or comma-separated; *.example.com matches "
            "subdomains, * any host). Guards against DNS rebinding; production lists its public names."
        ),
    )
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Origins (scheme://host[:port]) whose browser pages may call the API cross-origin and open "
            "its WebSocket (JSON list or comma-separated). Empty allows same-origin pages only."
        ),
    )
    url_signing_secret: str = Field(
        default="",
        description=(
            "Secret signing blob and keyframe URLs. Empty means one generated into <data_dir>/url-signing-"
            "secret on first start; several API processes must share one (set it)."
        ),
    )
    signed_url_ttl_seconds: int = Field(
        default=3600, ge=1, description="How long a signed blob or keyframe URL stays valid."
    )
    max_upload_bytes: int = Field(
        default=2 * 1024**3, ge=1, description="Largest accepted upload or ingested file."
    )
    max_bytes_per_kind: dict[str, int] = Field(
        default_factory=lambda: {"image": 256 * 1024**2, "text": 64 * 1024**2},
        description=(
            "Per asset kind (video, audio, image, text): a lower cap than max_upload_bytes, checked from "
            "the file's size and its first bytes before the content is copied."
        ),
    )
    max_json_body_bytes: int = Field(
        default=1024**2,
        ge=1,
        description=(
            "Largest request body that is not a multipart upload (GraphQL JSON documents), enforced "
            "while the body is read, chunked bodies included (413 beyond it)."
        ),
    )
    ws_per_message_deflate: bool = Field(
        default=False,
        description=(
            "Offer WebSocket permessage-deflate. Off: subscription frames are small JSON, and "
            "compressing each one for each subscriber cost delivery time (docs/benchmarks.md, fan-out)."
        ),
    )
    url_ingest_timeout_seconds: float = Field(
        default=300.0, gt=0, description="Longest a URL ingest may take to fetch, redirects included."
    )
    url_ingest_max_redirects: int = Field(
        default=5, ge=0, description="Most redirects a URL ingest follows (each one checked anew)."
    )
    outbound_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Networks (CIDR, comma-separated or JSON list) that URL fetches may reach although they are "
            "not public (loopback, private, ...). Empty: public addresses only. The tests use 127.0.0.1/32; "
            "never exempt a network with metadata services or internal admin endpoints."
        ),
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Longest a webhook receiver may take to answer one delivery attempt."
    )
    webhook_retry_base_seconds: float = Field(
        default=40.0,
        gt=0,
        description=(
            "Delay before a failed webhook delivery's first retry; each further retry waits twice as long "
            "(40 s and 12 attempts: the last one about 23 hours after the first)."
        ),
    )
    webhook_max_attempts: int = Field(
        default=12, ge=1, description="Attempts of a webhook delivery before it is dead-lettered."
    )
    rate_limit_requests_per_minute: int = Field(
        default=1200,
        ge=0,
        description="Requests (GraphQL operations, blob downloads) a caller may make a minute; 0: no limit.",
    )
    rate_limit_ingest_bytes_per_minute: int = Field(
        default=20 * 1024**3,
        ge=0,
        description=(
            "Bytes one caller may ingest per minute (uploads, server paths, URLs); an ingest starts while "
            "budget is left and is charged its size; 0: no limit."
        ),
    )
    rate_limit_url: str = Field(
        default="",
        description=(
            "Where rate-limit counters live: memory:// (this process) or redis://... (shared by every API "
            "process). Empty follows pubsub_url: Redis when that is redis://, else memory://."
        ),
    )
    trusted_documents: bool = Field(
        default=False,
        description=(
            "Run only trusted documents: those of graphql/operations/ and of trusted_documents_manifest, "
            "known by the sha256 of their text (OPERATION_NOT_TRUSTED otherwise; GraphiQL cannot be used)."
        ),
    )
    trusted_documents_manifest: Path | None = Field(
        default=None,
        description=(
            "Admin-approved documents beside graphql/operations/: a persisted-query manifest (JSON, "
            "`mediakg schema manifest DIR` writes one). Clients may send a known document's hash alone."
        ),
    )
    max_query_depth: int = Field(default=12, ge=1, description="GraphQL query depth limit.")
    max_query_complexity: int = Field(
        default=5000, ge=1, description="GraphQL complexity limit (estimated nodes returned)."
    )
    max_aliases: int = Field(default=30, ge=1, description="Most aliases in one GraphQL document.")
    max_page_size: int = Field(default=100, ge=1, description="Largest `first` of any connection.")

    # --- jobs --------------------------------------------------------------------------
    worker_threads: int = Field(default=2, ge=1, description="Worker threads per process.")
    worker_processes: int = Field(default=1, ge=1, description="Worker processes for `mediakg worker`.")
    queue_bound: int = Field(
        default=1000, ge=1, description="Most queued jobs per queue before ingestion answers Backpressure."
    )
    stage_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A stage's lease: renewed while the stage runs; once expired (its worker died) "
        "another worker takes the stage over.",
    )
    stage_heartbeat_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often a running stage renews its lease (at most a third of the lease).",
    )
    stage_message_lost_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A queued stage whose message is this old and never started is sent again.",
    )
    stage_time_limit_seconds: float = Field(
        default=1800.0, gt=0, description="Hard time limit of one stage run."
    )
    max_retries: int = Field(default=5, ge=0, description="Retries of a transiently failing stage.")
    retry_min_backoff_ms: int = Field(default=1000, ge=0, description="First retry delay.")
    retry_max_backoff_ms: int = Field(default=300_000, ge=0, description="Longest retry delay.")
    sweeper_interval_seconds: float = Field(
        default=10.0, gt=0, description="How often the sweeper looks for lost or expired stages."
    )

    # --- analysis ------------------------------------------------------------------------
    whisper_model: str = Field(
        default="tiny.en", description="Speech model: tiny.en (fast) or base (accurate)."
    )
    routing: RoutingPolicy = Field(
        default_factory=RoutingPolicy,
        description="Per task, the models of realtime and batch jobs, and when to escalate (docs/models.md).",
    )
    detection_min_confidence: float = Field(
        default=0.25, ge=0, le=1, description="Confidence floor for label and face detections."
    )
    clip_model_dir: Path | None = Field(
        default=None, description="Directory of a transformers CLIPModel; enables the CLIP path."
    )
    near_duplicate_threshold: float = Field(
        default=0.92, ge=0, le=1, description="Visual similarity above which assets are near-duplicates."
    )
    semantic_similarity_threshold: float = Field(
        default=0.6, ge=0, le=1, description="Score above which a semantic similarity edge is stored."
    )
    image_near_duplicate_threshold: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description=(
            "Images are near-duplicates at or above this score: the mean of their visual cosine "
            "and their perceptual-hash similarity (1 - Hamming distance / 64)."
        ),
    )
    visual_similarity_threshold: float = Field(
        default=0.85,
        ge=0,
        le=1,
        description="Keyframe visual cosine at or above which two scenes get a visual similarity edge.",
    )
    similarity_max_edges: int = Field(
        default=10, ge=1, description="Most visual and most semantic similarity edges kept per scene."
    )
    similarity_index_above: int = Field(
        default=20_000,
        ge=0,
        description=(
            "Similarity stage: from this many scenes (or text chunks) in the tenant on, its candidate "
            "assets come from the live search index's kNN (plus assets with a job in flight) and only "
            "their vectors are read and scored; below it every live scene is scanned. 0: always the index."
        ),
    )

    @field_validator("search_rrf_weights")
    @classmethod
    def _check_rrf_weights(cls, value: dict[str, float]) -> dict[str, float]:
        # The retriever names of search.query (not imported: settings load without numpy).
        known = {"text", "vector:text", "vector:visual", "vector:bridge", "vector:clip"}
        for name, weight in value.items():
            if name not in known:
                raise ValueError(f"unknown retriever {name!r}; known: {', '.join(sorted(known))}")
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"weight of {name} must be a finite number >= 0")
        return value

    @field_validator("max_bytes_per_kind")
    @classmethod
    def _check_kind_caps(cls, value: dict[str, int]) -> dict[str, int]:
        known = {"video", "audio", "image", "text"}
        for kind, cap in value.items():
            if kind not in known:
                raise ValueError(f"unknown asset kind {kind!r}; known: {', '.join(sorted(known))}")
            if cap < 1:
                raise ValueError(f"the cap of {kind} must be at least 1 byte")
        return value

    @field_validator("outbound_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("outbound_allowed_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        return value

    @field_validator("blob_url")
    @classmethod
    def _check_blob_url(cls, value: str) -> str:
        # Refused here, so a typo is one "invalid configuration" line rather than a traceback
        # when the store is built (app/core/blobs/__init__.py).
        s3_bucket_named = value.startswith("s3://") and len(value) > len("s3://")
        if value and not value.startswith("file://") and not s3_bucket_named:
            raise ValueError("use file:///directory or s3://bucket[/prefix]")
        return value

    @field_validator("allowed_roots", "allowed_hosts", "cors_allowed_origins", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        # Operators write MEDIAKG_ALLOWED_ROOTS=/a,/b; pydantic-settings expects JSON for lists.
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [part for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _fill_derived(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'mediakg.db').resolve()}"
        if not self.blob_url:
            self.blob_url = f"file://{(self.data_dir / 'blobs').resolve()}"
        if self.blob_cache_dir is None:
            self.blob_cache_dir = self.data_dir / "blob-cache"
        if not self.pubsub_url:
            self.pubsub_url = self.broker_url if self.broker_url.startswith("redis") else "memory://"
        if not self.rate_limit_url:
            self.rate_limit_url = self.pubsub_url if self.pubsub_url.startswith("redis") else "memory://"
        if not self.allowed_roots:
            self.allowed_roots = [Path.cwd()]
        self.allowed_roots = [root.expanduser().resolve() for root in self.allowed_roots]
        return self

    def pubsub_problem(self) -> str | None:
        """Why progress events cannot cross processes on these settings, or None.

        RabbitMQ carries no pub/sub here: without a Redis for it, pub/sub would stay in-process
        and subscriptions served by the API would never hear of stages run by the workers."""
        if self.broker_url.startswith(("amqp://", "amqps://")) and not self.pubsub_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            return (
                "MEDIAKG_BROKER_URL is amqp:// (RabbitMQ) but MEDIAKG_PUBSUB_URL is not a Redis URL: "
                "set MEDIAKG_PUBSUB_URL=redis://host:6379/0, or subscriptions on the API never "
                "receive the workers' progress events"
            )
        return None

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
