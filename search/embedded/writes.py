"""Writing documents: the rows an asset becomes, replacing an asset's rows (only by a newer
version), deletes with their tombstone, and the vector change log other processes replay."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from search.backend import WriteReport, split_vectors, valid_assets
from search.documents import (
    AssetDocument,
    DocType,
    Vector,
    VectorField,
    asset_doc_id,
    metadata_token,
    moment_doc_id,
    timed_rows,
)
from search.embedded.schema import Generation, chunks, epoch

# Keep this many vector changes for other processes to replay; older readers reload fully.
VLOG_KEEP = 200_000
# One document row, inserted or updated in place (its row id, which its terms and vectors
# reference, stays); {p} is the generation's table prefix.
_UPSERT_DOC = """
INSERT INTO {p}doc (tenant_id, doc_id, doc_type, asset_id, scene_id, version, kind, language,
    duration_s, created_at, start_s, end_s, faces_count, title, description, tags,
    labels, transcript, ocr, transcript_json, ocr_json)
VALUES (:tenant_id, :doc_id, :doc_type, :asset_id, :scene_id, :version, :kind, :language,
    :duration_s, :created_at, :start_s, :end_s, :faces_count, :title, :description,
    :tags, :labels, :transcript, :ocr, :transcript_json, :ocr_json)
ON CONFLICT (tenant_id, doc_id) DO UPDATE SET
    doc_type = excluded.doc_type, scene_id = excluded.scene_id, version = excluded.version,
    kind = excluded.kind, language = excluded.language, duration_s = excluded.duration_s,
    created_at = excluded.created_at, start_s = excluded.start_s, end_s = excluded.end_s,
    faces_count = excluded.faces_count, title = excluded.title,
    description = excluded.description, tags = excluded.tags,
    labels = excluded.labels, transcript = excluded.transcript,
    ocr = excluded.ocr, transcript_json = excluded.transcript_json,
    ocr_json = excluded.ocr_json
RETURNING id
"""


def upsert_assets(
    connection: sqlite3.Connection, targets: Sequence[Generation], assets: Sequence[AssetDocument]
) -> WriteReport:
    """Write every valid asset to each target generation, unless a delete at least as new
    stands (the tombstone is shared by all generations, so a late write cannot resurrect)."""
    valid, report = valid_assets(assets)
    for asset in valid:
        tomb = connection.execute(
            "SELECT version FROM tombstone WHERE tenant_id = ? AND asset_id = ?",
            (asset.tenant_id, asset.asset_id),
        ).fetchone()
        if tomb is not None and asset.version <= tomb[0]:
            report = report.merge(WriteReport(stale=(asset_doc_id(asset.asset_id),)))
            continue
        for target in targets:
            report = report.merge(write_asset(connection, target, asset))
    prune_logs(connection, targets)
    return report


def write_asset(connection: sqlite3.Connection, target: Generation, asset: AssetDocument) -> WriteReport:
    """Replace the asset's documents in ``target`` unless what is stored is as new."""
    p = target.prefix
    stored = connection.execute(
        f"SELECT max(version) FROM {p}doc WHERE tenant_id = ? AND asset_id = ?",
        (asset.tenant_id, asset.asset_id),
    ).fetchone()[0]
    # Same rule as Elasticsearch's external versioning: only a strictly newer version wins.
    if stored is not None and asset.version <= stored:
        return WriteReport(stale=(asset_doc_id(asset.asset_id),))
    skipped: list[str] = []
    keep_ids: list[str] = []
    for doc_id, row, terms, vectors in rows_for(asset):
        kept, dropped = split_vectors(target.spec, doc_id, vectors)
        skipped.extend(dropped)
        keep_ids.append(doc_id)
        row_id = connection.execute(
            _UPSERT_DOC.format(p=p),
            {**row, "tenant_id": asset.tenant_id, "doc_id": doc_id},
        ).fetchone()[0]
        connection.execute(f"DELETE FROM {p}term WHERE doc = ?", (row_id,))
        connection.executemany(
            f"INSERT OR IGNORE INTO {p}term (doc, field, value) VALUES (?, ?, ?)",
            [(row_id, field, value) for field, value in terms],
        )
        for vector_field in VectorField:
            vector = kept.get(vector_field)
            if vector is None:
                connection.execute(
                    f"DELETE FROM {p}vec WHERE doc = ? AND field = ?", (row_id, vector_field.value)
                )
            else:
                connection.execute(
                    f"INSERT INTO {p}vec (doc, field, data) VALUES (?, ?, ?) "
                    "ON CONFLICT (doc, field) DO UPDATE SET data = excluded.data",
                    (row_id, vector_field.value, vector.values.astype("<f4").tobytes()),
                )
    # Moments the new document no longer has (scene detection changed) must go.
    placeholders = ",".join("?" * len(keep_ids))
    stale_rows = [
        row[0]
        for row in connection.execute(
            f"SELECT id FROM {p}doc WHERE tenant_id = ? AND asset_id = ? AND doc_id NOT IN ({placeholders})",
            (asset.tenant_id, asset.asset_id, *keep_ids),
        )
    ]
    delete_rows(connection, p, stale_rows)
    return WriteReport(written=len(keep_ids), skipped_vectors=tuple(skipped))


def delete_asset(
    connection: sqlite3.Connection,
    generations: Sequence[Generation],
    tenant_id: str,
    asset_id: str,
    version: int,
) -> WriteReport:
    """Record the delete's tombstone and remove the asset's documents up to ``version`` from
    every generation."""
    connection.execute(
        "INSERT INTO tombstone (tenant_id, asset_id, version) VALUES (?, ?, ?) "
        "ON CONFLICT (tenant_id, asset_id) DO UPDATE SET version = max(version, excluded.version)",
        (tenant_id, asset_id, version),
    )
    removed = 0
    stale: list[str] = []
    for generation in generations:
        p = generation.prefix
        rows = connection.execute(
            f"SELECT id, version, doc_id FROM {p}doc WHERE tenant_id = ? AND asset_id = ?",
            (tenant_id, asset_id),
        ).fetchall()
        # A document written after the delete was issued (higher version) stays.
        delete_rows(connection, p, [row[0] for row in rows if row[1] <= version])
        removed += sum(1 for row in rows if row[1] <= version)
        stale.extend(row[2] for row in rows if row[1] > version)
    prune_logs(connection, generations)
    return WriteReport(written=removed, stale=tuple(stale))


def prune_logs(connection: sqlite3.Connection, generations: Iterable[Generation]) -> None:
    """Count the write and trim each generation's vector change log."""
    for generation in generations:
        p = generation.prefix
        connection.execute(f"UPDATE {p}state SET writes = writes + 1")
        top = connection.execute(f"SELECT max(seq) FROM {p}vlog").fetchone()[0]
        if top is not None and top > 2 * VLOG_KEEP:
            cutoff = top - VLOG_KEEP
            connection.execute(f"DELETE FROM {p}vlog WHERE seq <= ?", (cutoff,))
            connection.execute(f"UPDATE {p}state SET pruned_upto = max(pruned_upto, ?)", (cutoff,))


def rows_for(
    asset: AssetDocument,
) -> Iterable[tuple[str, dict[str, Any], list[tuple[str, str]], Mapping[VectorField, Vector]]]:
    """(doc id, doc row, term rows, vectors) for the asset document and each moment."""
    shared_terms = [("tag", tag) for tag in asset.tags] + [
        (f"meta:{key}", metadata_token(value)) for key, value in asset.user_metadata.items()
    ]
    # On every document of the asset, so a person filter keeps its moments too.
    shared_terms += [("person", person_id) for person_id in asset.person_ids]
    shared: dict[str, Any] = {
        "asset_id": asset.asset_id,
        "version": asset.version,
        "kind": asset.kind,
        "language": asset.language,
        "duration_s": asset.duration_s,
        "created_at": epoch(asset.created_at),
        "title": asset.title,
        "tags": "\n".join(asset.tags),
    }
    yield (
        asset_doc_id(asset.asset_id),
        {
            **shared,
            "doc_type": DocType.ASSET.value,
            "scene_id": None,
            "start_s": None,
            "end_s": None,
            "faces_count": asset.faces_count,
            "description": asset.description,
            # People's names are searched with the labels (what is seen in the asset): the FTS
            # columns are fixed when a generation is created, and a name weighs like a label.
            "labels": "\n".join((*asset.labels, *asset.people)),
            "transcript": "\n".join(item.text for item in asset.transcript),
            "ocr": "\n".join(item.text for item in asset.ocr),
            "transcript_json": json.dumps(timed_rows(asset.transcript)),
            "ocr_json": json.dumps(timed_rows(asset.ocr)),
        },
        shared_terms + [("label", label) for label in asset.labels],
        asset.vectors,
    )
    for moment in asset.moments:
        yield (
            moment_doc_id(asset.asset_id, moment.scene_id),
            {
                **shared,
                "doc_type": DocType.MOMENT.value,
                "scene_id": moment.scene_id,
                "start_s": moment.start_s,
                "end_s": moment.end_s,
                "faces_count": moment.faces_count,
                "description": moment.title,
                "labels": "\n".join((*moment.labels, *moment.people)),
                "transcript": "\n".join(item.text for item in moment.transcript),
                "ocr": "\n".join(item.text for item in moment.ocr),
                "transcript_json": json.dumps(timed_rows(moment.transcript)),
                "ocr_json": json.dumps(timed_rows(moment.ocr)),
            },
            shared_terms + [("label", label) for label in moment.labels],
            moment.vectors,
        )


def delete_rows(connection: sqlite3.Connection, p: str, row_ids: Sequence[int]) -> None:
    """Delete these doc rows of generation prefix ``p`` with their terms and vectors."""
    for chunk in chunks(row_ids):
        marks = ",".join("?" * len(chunk))
        # Children first and explicitly: the vec delete trigger must log each vector removal
        # even on a connection where foreign keys are off.
        connection.execute(f"DELETE FROM {p}vec WHERE doc IN ({marks})", chunk)
        connection.execute(f"DELETE FROM {p}term WHERE doc IN ({marks})", chunk)
        connection.execute(f"DELETE FROM {p}doc WHERE id IN ({marks})", chunk)
