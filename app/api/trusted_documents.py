"""Trusted documents (persisted operations): an allow-list of the operations clients may run.

A document is known by the sha256 of its exact text. The known documents are the files of
``graphql/operations/`` (the ones this repository's clients use) plus an admin-approved
manifest (``trusted_documents_manifest``, Apollo's persisted-query manifest format:
``{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": sha256,
"name": ..., "type": ..., "body": text}]}``).

- A client may send the hash alone (``extensions.persistedQuery.sha256Hash``, as Apollo's
  persisted queries do): the known text is run; an unknown hash is ``PERSISTED_QUERY_NOT_FOUND``.
  A hash sent beside a document must match it (``PERSISTED_QUERY_HASH_MISMATCH``).
- With ``trusted_documents`` on, any other document is refused before it is parsed
  (``OPERATION_NOT_TRUSTED``): a client can only run what was reviewed, over HTTP and WebSocket.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from strawberry.extensions import SchemaExtension

from app.api.context import Context
from app.api.limits import is_refused, refuse_unparsed
from graphql import GraphQLError

# The source checkout's operations; absent from an installed package (use the manifest there).
OPERATIONS_DIR = Path(__file__).resolve().parents[2] / "graphql" / "operations"
MANIFEST_FORMAT = "apollo-persisted-query-manifest"


def document_hash(text: str) -> str:
    """The sha256 (hex) of a document's exact text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class TrustedDocuments:
    """The known documents by hash."""

    by_hash: dict[str, str]

    def __contains__(self, sha256: str) -> bool:
        return sha256 in self.by_hash

    def text(self, sha256: str) -> str | None:
        """The document with hash ``sha256``, if known."""
        return self.by_hash.get(sha256)


def manifest(operations_dir: Path = OPERATIONS_DIR) -> dict[str, object]:
    """The operations of ``operations_dir`` as a persisted-query manifest (for the admin list)."""
    operations = []
    for path in sorted(operations_dir.glob("*.graphql")):
        body = path.read_text(encoding="utf-8")
        operations.append({"id": document_hash(body), "name": path.stem, "body": body})
    return {"format": MANIFEST_FORMAT, "version": 1, "operations": operations}


@lru_cache(maxsize=4)
def _load(operations_dir: Path, manifest_path: Path | None, manifest_mtime: float) -> TrustedDocuments:
    by_hash: dict[str, str] = {}
    if operations_dir.is_dir():
        for path in operations_dir.glob("*.graphql"):
            body = path.read_text(encoding="utf-8")
            by_hash[document_hash(body)] = body
    if manifest_path is not None:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"{manifest_path}: not an {MANIFEST_FORMAT} (format {data.get('format')!r})")
        for operation in data.get("operations", []):
            body = operation["body"]
            if operation["id"] != document_hash(body):
                raise ValueError(
                    f"{manifest_path}: the id of {operation.get('name')!r} is not the sha256 of its body"
                )
            by_hash[operation["id"]] = body
    return TrustedDocuments(by_hash)


def trusted_documents(manifest_path: Path | None, operations_dir: Path = OPERATIONS_DIR) -> TrustedDocuments:
    """The known documents (re-read when the manifest file changes)."""
    mtime = manifest_path.stat().st_mtime if manifest_path is not None else 0.0
    return _load(operations_dir, manifest_path, mtime)


def _refusal(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class TrustedDocumentsCheck(SchemaExtension):
    """Fills in a document sent by hash, and refuses untrusted documents when the setting says so."""

    def on_operation(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        if isinstance(context, Context) and not is_refused(execution):
            try:
                self._check(context)
            except GraphQLError as error:
                refuse_unparsed(execution, error)
        yield

    def _check(self, context: Context) -> None:
        execution = self.execution_context
        settings = context.settings
        persisted = (execution.operation_extensions or {}).get("persistedQuery")
        if persisted is None and not settings.trusted_documents:
            return
        known = trusted_documents(settings.trusted_documents_manifest)
        if persisted is not None:
            sha256 = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
            if not isinstance(sha256, str):
                raise _refusal("persistedQuery needs a sha256Hash string", "BAD_USER_INPUT")
            if not execution.query:
                text = known.text(sha256)
                if text is None:
                    raise _refusal("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
                execution.query = text
            elif document_hash(execution.query) != sha256:
                raise _refusal("the sha256Hash does not match the document", "PERSISTED_QUERY_HASH_MISMATCH")
        if settings.trusted_documents and document_hash(execution.query or "") not in known:
            raise _refusal(
                "this server runs trusted documents only: the document is not on its list",
                "OPERATION_NOT_TRUSTED",
            )
