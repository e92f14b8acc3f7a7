"""Reading the index: the FTS5 match expression, filters as SQL, BM25 and facet queries, and
what a page of hits needs (doc ids, stored fields, snippets, time-coded segments)."""

from __future__ import annotations

import html
import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from search.calibration import STOP_WORDS as _STOPWORDS
from search.documents import DocType, TimedText, metadata_token, timed_texts
from search.embedded.schema import FTS_COLUMNS, chunks, epoch
from search.query import (
    HIGHLIGHT_POST,
    HIGHLIGHT_PRE,
    TEXT_FIELD_WEIGHTS,
    FacetField,
    FacetValue,
    Filters,
    Highlight,
    TextField,
    tokenize,
)

# snippet() markers: control characters cannot occur in tokenised text, so after HTML
# escaping they can be turned into <mark> tags without ambiguity.
_SNIP_PRE = "\x02"
_SNIP_POST = "\x03"
_SNIPPET_TOKENS = 16


def fts_query(text: str | None) -> str | None:
    """An FTS5 MATCH expression OR-ing the query's words (each quoted: no query syntax leaks)."""
    terms = [term for term in tokenize(text or "") if term not in _STOPWORDS]
    if not terms:
        return None
    return " OR ".join(f'"{term}"' for term in dict.fromkeys(terms))


def filter_sql(
    p: str, tenant_id: str, scope: DocType | Sequence[DocType], filters: Filters
) -> tuple[str, list[Any]]:
    """A WHERE clause over ``{p}doc d`` and its parameters; the tenant is always part of it.
    ``scope``: the document type, or several (an ASSET-scope kNN searches moments too)."""
    types = [scope.value] if isinstance(scope, DocType) else [doc_type.value for doc_type in scope]
    clauses = ["d.tenant_id = ?", f"d.doc_type IN ({','.join('?' * len(types))})"]
    params: list[Any] = [tenant_id, *types]

    def any_of(column: str, values: Sequence[str], negate: bool = False) -> None:
        if values:
            clauses.append(f"{column} {'NOT ' if negate else ''}IN ({','.join('?' * len(values))})")
            params.extend(values)

    any_of("d.kind", filters.kinds)
    any_of("d.language", filters.languages)
    any_of("d.asset_id", filters.asset_ids)
    any_of("d.asset_id", filters.exclude_asset_ids, negate=True)
    if filters.person_ids:
        marks = ",".join("?" * len(filters.person_ids))
        clauses.append(
            f"EXISTS (SELECT 1 FROM {p}term t WHERE t.field = 'person' "
            f"AND t.value IN ({marks}) AND t.doc = d.id)"
        )
        params.extend(filters.person_ids)
    terms = [("tag", tag) for tag in filters.tags] + [("label", label) for label in filters.labels]
    terms += [(f"meta:{key}", metadata_token(value)) for key, value in filters.metadata.items()]
    for field, value in terms:
        clauses.append(f"EXISTS (SELECT 1 FROM {p}term t WHERE t.field = ? AND t.value = ? AND t.doc = d.id)")
        params.extend((field, value))
    if filters.duration_min_s is not None:
        clauses.append("d.duration_s >= ?")
        params.append(filters.duration_min_s)
    if filters.duration_max_s is not None:
        clauses.append("d.duration_s <= ?")
        params.append(filters.duration_max_s)
    if filters.created_from is not None:
        clauses.append("d.created_at >= ?")
        params.append(epoch(filters.created_from))
    if filters.created_to is not None:
        clauses.append("d.created_at < ?")
        params.append(epoch(filters.created_to))
    return " AND ".join(clauses), params


def bm25_ranking(
    connection: sqlite3.Connection, p: str, match: str, where: str, params: Sequence[Any], k: int
) -> list[tuple[int, str, float]]:
    """(row id, doc id, score) of the ``k`` best BM25 matches allowed by ``where``, best first."""
    weights = ", ".join(str(TEXT_FIELD_WEIGHTS[column]) for column in FTS_COLUMNS)
    rows = connection.execute(
        f"""
        SELECT d.id, d.doc_id, bm25({p}fts, {weights}) AS rank
        FROM {p}fts JOIN {p}doc d ON d.id = {p}fts.rowid
        WHERE {p}fts MATCH ? AND {where}
        ORDER BY rank, d.id LIMIT ?
        """,
        (match, *params, k),
    ).fetchall()
    # FTS5's bm25() is negative, lower is better; flip it so higher is better.
    return [(int(row[0]), str(row[1]), -float(row[2])) for row in rows]


def facet_values(
    connection: sqlite3.Connection, p: str, field: FacetField, where: str, params: Sequence[Any], size: int
) -> tuple[FacetValue, ...]:
    """The ``size`` most frequent values of ``field`` among the documents ``where`` allows."""
    if field in (FacetField.KIND, FacetField.LANGUAGE):
        column = "d.kind" if field is FacetField.KIND else "d.language"
        sql = (
            f"SELECT {column} AS value, count(*) AS n FROM {p}doc d "
            f"WHERE {where} AND {column} IS NOT NULL "
            "GROUP BY value ORDER BY n DESC, value LIMIT ?"
        )
        rows = connection.execute(sql, (*params, size)).fetchall()
    else:
        term = "tag" if field is FacetField.TAGS else "label"
        sql = (
            f"SELECT t.value AS value, count(*) AS n "
            f"FROM {p}term t JOIN {p}doc d ON d.id = t.doc "
            f"WHERE t.field = ? AND {where} GROUP BY value ORDER BY n DESC, value LIMIT ?"
        )
        rows = connection.execute(sql, (term, *params, size)).fetchall()
    return tuple(FacetValue(str(row[0]), int(row[1])) for row in rows)


def allowed_rows(
    connection: sqlite3.Connection, p: str, where: str, params: Sequence[Any]
) -> npt.NDArray[np.int64]:
    """The row ids of the documents ``where`` allows, as an array (the kNN's candidate set)."""
    # group_concat returns one string instead of one Python tuple per row: at 100k rows this
    # is several times faster than fetchall().
    raw = connection.execute(f"SELECT group_concat(d.id) FROM {p}doc d WHERE {where}", params).fetchone()[0]
    if not raw:
        return np.zeros(0, dtype=np.int64)
    return np.array(raw.split(","), dtype=np.int64)


def doc_ids(connection: sqlite3.Connection, p: str, row_ids: Sequence[int]) -> dict[int, str]:
    """The doc id of each of these rows."""
    out: dict[int, str] = {}
    for chunk in chunks(row_ids):
        marks = ",".join("?" * len(chunk))
        out.update(
            connection.execute(f"SELECT id, doc_id FROM {p}doc WHERE id IN ({marks})", chunk).fetchall()
        )
    return out


def asset_documents(
    connection: sqlite3.Connection, p: str, row_ids: Sequence[int]
) -> dict[int, tuple[str, int]]:
    """Per row (an asset's document or a moment), its asset's id and the row of that asset's own
    document (rows whose asset has none are left out)."""
    out: dict[int, tuple[str, int]] = {}
    for chunk in chunks(row_ids):
        marks = ",".join("?" * len(chunk))
        rows = connection.execute(
            f"SELECT d.id, d.asset_id, a.id FROM {p}doc d JOIN {p}doc a ON a.tenant_id = d.tenant_id "
            f"AND a.asset_id = d.asset_id AND a.doc_type = ? WHERE d.id IN ({marks})",
            (DocType.ASSET.value, *chunk),
        ).fetchall()
        out.update((int(row[0]), (str(row[1]), int(row[2]))) for row in rows)
    return out


def hydrate(connection: sqlite3.Connection, p: str, row_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The stored fields a hit shows, per row."""
    if not row_ids:
        return {}
    marks = ",".join("?" * len(row_ids))
    cursor = connection.execute(
        f"SELECT id, doc_type, asset_id, scene_id, start_s, end_s, title, transcript_json, ocr_json "
        f"FROM {p}doc WHERE id IN ({marks})",
        list(row_ids),
    )
    names = [column[0] for column in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def snippets(
    connection: sqlite3.Connection, p: str, match: str, row_ids: Sequence[int]
) -> dict[int, tuple[Highlight, ...]]:
    """Per row, a highlight for each text column where ``match`` matched (the marked fragment)."""
    if not row_ids:
        return {}
    calls = ", ".join(
        f"snippet({p}fts, {index}, '{_SNIP_PRE}', '{_SNIP_POST}', '…', {_SNIPPET_TOKENS})"
        for index in range(len(FTS_COLUMNS))
    )
    marks = ",".join("?" * len(row_ids))
    out: dict[int, tuple[Highlight, ...]] = {}
    for row in connection.execute(
        f"SELECT rowid, {calls} FROM {p}fts WHERE {p}fts MATCH ? AND rowid IN ({marks})", (match, *row_ids)
    ):
        # snippet() returns the column's opening words even where nothing matched; only a
        # fragment with a marker is a highlight.
        out[int(row[0])] = tuple(
            Highlight(column, _render_snippet(text))
            for column, text in zip(FTS_COLUMNS, row[1:], strict=True)
            if text and _SNIP_PRE in text
        )
    return out


def _render_snippet(raw: str) -> str:
    return html.escape(raw, quote=False).replace(_SNIP_PRE, HIGHLIGHT_PRE).replace(_SNIP_POST, HIGHLIGHT_POST)


def stored_segments(doc: Mapping[str, Any], field: TextField) -> tuple[TimedText, ...]:
    """The timed texts of ``field`` stored with a hydrated document."""
    return timed_texts(json.loads(doc["transcript_json" if field is TextField.TRANSCRIPT else "ocr_json"]))
