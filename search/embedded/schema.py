"""The SQLite file's tables: the shared ``generation`` and ``tombstone`` tables, and per
generation the ``g<id>_*`` tables, their FTS5 index and the triggers that keep both in step
(the layout is described in ``search/embedded/__init__.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from search.backend import GenerationSpec, GenerationState, VectorSpec
from search.documents import VectorField
from search.query import TextField

T = TypeVar("T")

SCHEMA_VERSION = 1
# FTS5 column order; bm25() takes the weights positionally in this order.
FTS_COLUMNS: tuple[TextField, ...] = (
    TextField.TITLE,
    TextField.DESCRIPTION,
    TextField.TAGS,
    TextField.LABELS,
    TextField.TRANSCRIPT,
    TextField.OCR,
)
DOC_TEXT_COLUMNS = tuple(column.value for column in FTS_COLUMNS)
# Every table of a generation, children first (the order a drop takes).
GENERATION_TABLES = ("fts", "vlog", "vec", "term", "doc", "state")

SHARED_TABLES = """
CREATE TABLE IF NOT EXISTS generation (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('building', 'live', 'retired')),
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS generation_one_live ON generation(state)
    WHERE state = 'live';
CREATE TABLE IF NOT EXISTS tombstone (
    tenant_id TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, asset_id)
) WITHOUT ROWID;
"""


@dataclass(slots=True)
class Generation:
    """A row of ``generation``."""

    id: int
    spec: GenerationSpec
    state: GenerationState
    created_at: datetime

    @property
    def prefix(self) -> str:
        """The prefix of this generation's tables."""
        # Derived from the integer id, never from the user-chosen name: safe in SQL.
        return f"g{self.id}_"


def spec_to_json(spec: GenerationSpec) -> str:
    """How a generation's spec is stored in ``generation.spec``."""
    return json.dumps(
        {
            "name": spec.name,
            "vectors": {
                field.value: {"dims": vs.dims, "model_version": vs.model_version}
                for field, vs in spec.vectors.items()
            },
        },
        sort_keys=True,
    )


def spec_from_json(raw: str) -> GenerationSpec:
    """The spec :func:`spec_to_json` stored."""
    data = json.loads(raw)
    return GenerationSpec(
        name=data["name"],
        vectors={
            VectorField(field): VectorSpec(dims=int(vs["dims"]), model_version=str(vs["model_version"]))
            for field, vs in data["vectors"].items()
        },
    )


def epoch(moment: datetime) -> float:
    """How dates are stored and compared (``created_at REAL``): seconds since the epoch."""
    return moment.timestamp()


def chunks(items: Sequence[T], size: int = 500) -> Iterable[list[T]]:
    """``items`` in lists of ``size``: an ``IN (...)`` list stays under SQLite's parameter limit."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def generation_ddl(p: str) -> list[str]:
    """The statements that create the tables, FTS index and triggers of generation prefix ``p``."""
    new_text = ", ".join(f"new.{column}" for column in DOC_TEXT_COLUMNS)
    old_text = ", ".join(f"old.{column}" for column in DOC_TEXT_COLUMNS)
    fts_columns = ", ".join(column.value for column in FTS_COLUMNS)
    return [
        f"""CREATE TABLE {p}doc (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            doc_id TEXT NOT NULL,
            doc_type TEXT NOT NULL,
            asset_id TEXT NOT NULL,
            scene_id TEXT,
            version INTEGER NOT NULL,
            kind TEXT NOT NULL,
            language TEXT,
            duration_s REAL,
            created_at REAL NOT NULL,
            start_s REAL,
            end_s REAL,
            faces_count INTEGER NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            tags TEXT NOT NULL,
            labels TEXT NOT NULL,
            transcript TEXT NOT NULL,
            ocr TEXT NOT NULL,
            transcript_json TEXT NOT NULL,
            ocr_json TEXT NOT NULL,
            UNIQUE (tenant_id, doc_id)
        )""",
        f"CREATE INDEX {p}doc_scope ON {p}doc (tenant_id, doc_type, kind)",
        f"CREATE INDEX {p}doc_asset ON {p}doc (tenant_id, asset_id)",
        f"""CREATE TABLE {p}term (
            doc INTEGER NOT NULL REFERENCES {p}doc (id) ON DELETE CASCADE,
            field TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (field, value, doc)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {p}term_doc ON {p}term (doc)",
        f"""CREATE TABLE {p}vec (
            doc INTEGER NOT NULL REFERENCES {p}doc (id) ON DELETE CASCADE,
            field TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (doc, field)
        ) WITHOUT ROWID""",
        f"CREATE TABLE {p}vlog (seq INTEGER PRIMARY KEY AUTOINCREMENT, doc INTEGER NOT NULL)",
        # writes: bumped by every write transaction; cached filter results are keyed on it.
        f"CREATE TABLE {p}state (pruned_upto INTEGER NOT NULL, writes INTEGER NOT NULL)",
        f"INSERT INTO {p}state (pruned_upto, writes) VALUES (0, 0)",
        f"""CREATE VIRTUAL TABLE {p}fts USING fts5(
            {fts_columns}, content='{p}doc', content_rowid='id', tokenize='porter unicode61'
        )""",
        # External-content FTS5 stores only the index; these triggers are what keep it equal
        # to the doc table on insert, update (delete old terms, add new) and delete.
        f"""CREATE TRIGGER {p}doc_ai AFTER INSERT ON {p}doc BEGIN
            INSERT INTO {p}fts (rowid, {fts_columns}) VALUES (new.id, {new_text});
        END""",
        f"""CREATE TRIGGER {p}doc_ad AFTER DELETE ON {p}doc BEGIN
            INSERT INTO {p}fts ({p}fts, rowid, {fts_columns}) VALUES ('delete', old.id, {old_text});
        END""",
        f"""CREATE TRIGGER {p}doc_au AFTER UPDATE ON {p}doc BEGIN
            INSERT INTO {p}fts ({p}fts, rowid, {fts_columns}) VALUES ('delete', old.id, {old_text});
            INSERT INTO {p}fts (rowid, {fts_columns}) VALUES (new.id, {new_text});
        END""",
        f"CREATE TRIGGER {p}vec_ai AFTER INSERT ON {p}vec BEGIN "
        f"INSERT INTO {p}vlog (doc) VALUES (new.doc); END",
        f"CREATE TRIGGER {p}vec_au AFTER UPDATE ON {p}vec BEGIN "
        f"INSERT INTO {p}vlog (doc) VALUES (new.doc); END",
        f"CREATE TRIGGER {p}vec_ad AFTER DELETE ON {p}vec BEGIN "
        f"INSERT INTO {p}vlog (doc) VALUES (old.doc); END",
    ]
