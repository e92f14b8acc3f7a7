"""URLs the API hands out for blobs (served by the /blobs route of app/api/http.py).

A blob URL is signed (app/core/signing.py): it names its tenant and an expiry, so a browser's
``<img src>`` loads it without a header, and nobody can forge one or use it after it expires.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote, urlencode

from app.core.signing import UrlSigner

BLOB_ROUTE = "/blobs"
SIGNATURE_PARAMS = ("tenant", "expires", "signature")


def blob_url(key: str, *, signer: UrlSigner, tenant_id: uuid.UUID) -> str:
    """Signed path of the blob ``key`` for the tenant, relative to the service root (same
    origin as /graphql)."""
    signed = signer.sign(tenant_id=tenant_id, key=key)
    query = urlencode(
        {"tenant": signed.tenant_id.hex, "expires": signed.expires, "signature": signed.signature}
    )
    return f"{BLOB_ROUTE}/{quote(key)}?{query}"
