"""Content-addressed blob storage: a local directory (``file://``) or S3 (``s3://``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from app.core.blobs.base import (
    BLOB_PREFIX,
    HEAD_BYTES,
    STAGING_PREFIX,
    BlobInfo,
    BlobReader,
    BlobStore,
    StagedBlob,
    StoredBlob,
    blob_key,
)
from app.core.blobs.local import LocalBlobStore
from app.core.settings import Settings


def create_blob_store(settings: Settings) -> BlobStore:
    """The blob store named by ``settings.blob_url`` (``file:///dir`` or ``s3://bucket/prefix``)."""
    url = settings.blob_url
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalBlobStore(Path(parsed.path))
    if parsed.scheme == "s3":
        # Imported here: the embedded default never loads the S3 client.
        from app.core.blobs.s3 import S3BlobStore

        assert settings.blob_cache_dir is not None  # filled in by Settings
        return S3BlobStore(
            url,
            endpoint=settings.blob_s3_endpoint_url,
            region=settings.blob_s3_region,
            cache_dir=settings.blob_cache_dir,
            cache_max_bytes=settings.blob_cache_max_bytes,
            part_bytes=settings.blob_s3_part_bytes,
        )
    raise ValueError(f"unsupported blob store URL scheme {parsed.scheme!r} (file:// or s3://)")


__all__ = [
    "BLOB_PREFIX",
    "HEAD_BYTES",
    "STAGING_PREFIX",
    "BlobInfo",
    "BlobReader",
    "BlobStore",
    "LocalBlobStore",
    "StagedBlob",
    "StoredBlob",
    "blob_key",
    "create_blob_store",
]
