"""Signed, expiring URLs: an HMAC-SHA256 over the tenant, the resource key and the expiry
time, with a deployment secret. A signed URL works without a header (``<img src>``), names
its tenant, cannot be forged without the secret, and stops working at its expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.core.secretfile import read_secret_file, write_secret_file
from app.core.settings import Settings

SIGNING_SECRET_FILE = "url-signing-secret"
# Expiries are rounded up to this grid: a page reloaded within the window gets the same URLs
# (so the browser's cache works), at the cost of up to this much extra validity.
_EXPIRY_GRID_SECONDS = 300


def signing_secret(settings: Settings) -> bytes:
    """The deployment's URL signing secret: the setting, or the one in the data directory
    (generated there on first use)."""
    if settings.url_signing_secret:
        return settings.url_signing_secret.encode()
    path: Path = settings.data_dir / SIGNING_SECRET_FILE
    write_secret_file(path, secrets.token_urlsafe(32))
    return read_secret_file(path).encode()


@dataclass(frozen=True, slots=True)
class Signature:
    """What a signed URL carries besides the resource key."""

    tenant_id: uuid.UUID
    expires: int
    signature: str


class UrlSigner:
    """Signs and checks (tenant, key, expiry) triples."""

    def __init__(self, secret: bytes, *, ttl_seconds: int) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    def _mac(self, tenant_id: uuid.UUID, key: str, expires: int) -> str:
        message = f"{tenant_id.hex}\n{key}\n{expires}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, *, tenant_id: uuid.UUID, key: str, now: float | None = None) -> Signature:
        """A signature of ``key`` for ``tenant_id``, valid for at least the TTL."""
        at = time.time() if now is None else now
        expires = math.ceil((at + self.ttl_seconds) / _EXPIRY_GRID_SECONDS) * _EXPIRY_GRID_SECONDS
        return Signature(tenant_id=tenant_id, expires=expires, signature=self._mac(tenant_id, key, expires))

    def verify(
        self, *, key: str, tenant: str, expires: str, signature: str, now: float | None = None
    ) -> uuid.UUID | None:
        """The tenant a valid, unexpired signature of ``key`` names; None otherwise."""
        try:
            tenant_id = uuid.UUID(hex=tenant)
            expiry = int(expires)
        except ValueError:
            return None
        if not hmac.compare_digest(self._mac(tenant_id, key, expiry), signature):
            return None
        return tenant_id if (time.time() if now is None else now) < expiry else None
