"""Vectors a new generation's text model needs that the database lacks: ``mediakg search
reindex`` for a new model embeds the texts the embed stage embeds (transcript segments, each
scene in words, the title) and stores them as ordinary embedding rows."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.db import session_scope
from app.core.enums import Modality, OwnerType
from app.media.models import Embedding
from app.media.service import vector_to_bytes
from app.search_index import repository
from inference.cache import content_hash
from jobs.indexing.generations import ModelRouter
from jobs.scene_text import scene_text
from search.backend import GenerationError
from search.documents import model_key
from search.render import AssetSnapshot, DetectionRow


@dataclass(slots=True)
class EmbedReport:
    """Vectors a reindex computed because the database had none of the generation's model."""

    segments: int = 0
    scenes: int = 0
    assets: int = 0

    @property
    def total(self) -> int:
        """All vectors computed."""
        return self.segments + self.scenes + self.assets


def missing_texts(snapshot: AssetSnapshot, model: str) -> list[tuple[OwnerType, uuid.UUID, str]]:
    """(owner type, owner id, text) of every text the embed stage embeds that has no
    ``model`` vector: transcript segments, each scene in words, the title."""
    have = {
        (row.owner_type, row.owner_id)
        for row in snapshot.embeddings
        if row.modality is Modality.TEXT and model_key(row.model_name, row.model_version) == model
    }
    todo: list[tuple[OwnerType, uuid.UUID, str]] = []
    for segment in snapshot.segments:
        if segment.text.strip() and (OwnerType.SEGMENT, segment.id) not in have:
            todo.append((OwnerType.SEGMENT, segment.id, segment.text.strip()))
    by_scene: dict[uuid.UUID, list[DetectionRow]] = defaultdict(list)
    for detection in snapshot.detections:
        if detection.scene_id is not None:
            by_scene[detection.scene_id].append(detection)
    for scene in snapshot.scenes:
        # The embed stage's texts (jobs/stages/embed.py): each scene in words (the one rule in
        # jobs.scene_text), the asset's title; so a later embed run reuses these vectors.
        text = scene_text(by_scene[scene.id]).strip()
        if text and (OwnerType.SCENE, scene.id) not in have:
            todo.append((OwnerType.SCENE, scene.id, text))
    title = snapshot.asset.title.strip()
    if title and (OwnerType.ASSET, snapshot.asset.id) not in have:
        todo.append((OwnerType.ASSET, snapshot.asset.id, title))
    return todo


async def embed_missing(
    session_factory: async_sessionmaker[AsyncSession],
    router: ModelRouter,
    snapshots: Sequence[AssetSnapshot],
    *,
    model: str,
) -> EmbedReport:
    """Compute and store the text vectors of ``model`` that the snapshots lack.

    Stored as ordinary ``Embedding`` rows, so the next rebuild finds them and the index stays
    rebuildable from the database alone. Rows are inserted, never replaced: the embed stage
    owns replacing its model's rows, and a row it wrote meanwhile wins (unique constraint).
    """
    report = EmbedReport()
    work = [
        (snapshot, item)
        for snapshot in snapshots
        if not snapshot.deleted
        for item in missing_texts(snapshot, model)
    ]
    if not work:
        return report
    result = await router.embed_text([text for _, (_, _, text) in work])
    produced = model_key(result.model.name, result.model.version)
    if produced != model:
        raise GenerationError(f"the router embeds text with {produced}, the generation wants {model}")
    async with session_scope(session_factory) as session:
        for (snapshot, (owner_type, owner_id, text)), values in zip(work, result.vectors, strict=True):
            row = Embedding(
                tenant_id=snapshot.asset.tenant_id,
                asset_id=snapshot.asset.id,
                owner_type=owner_type,
                owner_id=owner_id,
                modality=Modality.TEXT,
                model_name=result.model.name,
                model_version=result.model.version,
                dimension=int(values.shape[-1]),
                vector=vector_to_bytes(values),
                content_sha256=content_hash(text),
            )
            if not await repository.add_embedding_unless_present(session, row):
                continue  # the embed stage stored this owner's vector meanwhile: keep the stage's
            if owner_type is OwnerType.SEGMENT:
                report.segments += 1
            elif owner_type is OwnerType.SCENE:
                report.scenes += 1
            else:
                report.assets += 1
    return report
