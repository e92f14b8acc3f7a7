"""URLs the API hands out for blobs (served by the /blobs route of app/api/http.py)."""

from __future__ import annotations

from urllib.parse import quote

BLOB_ROUTE = "/blobs"


def blob_url(key: str) -> str:
    """Path of the blob ``key``, relative to the service root (same origin as /graphql)."""
    return f"{BLOB_ROUTE}/{quote(key)}"
