"""Audio near-duplicates for the similarity stage: the Chromaprint fingerprint of an audio
asset, or of a video's sound track, stored per asset (``AudioFingerprint``), and for audio
assets near_duplicate edges by the length-aware rule of ``inference.audio_fingerprint``.

Videos keep their visual rule for near-duplicates (a video with another's sound but other
pictures is not a copy); their sound's fingerprint is stored for other uses. Without
``fpcalc`` (Debian libchromaprint-tools) or without a sound track, nothing is written and the
rest of the stage runs as before.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.enums import AssetKind, OwnerType, SimilarityKind
from app.core.errors import UnreadableFileError
from app.media import stage_repository
from app.media.service import replace_asset_edges, replace_fingerprint
from inference.audio_fingerprint import (
    ALGORITHM,
    AUDIO_NEAR_DUPLICATE_THRESHOLD,
    Fingerprint,
    FingerprintError,
    available,
    compare,
    fingerprint_file,
)
from jobs.registry import StageContext

log = logging.getLogger(__name__)

MODEL_NAME = "chromaprint"
# The rules' version, appended to the fingerprint algorithm on every edge.
AUDIO_RULES = "ad1"


@dataclass(frozen=True, slots=True)
class AudioOutput:
    """What the stage writes for the asset's sound."""

    fingerprint: Fingerprint
    edges: list[dict[str, Any]]

    @property
    def edge_version(self) -> str:
        """The model version of the edges (algorithm and rules)."""
        return f"{ALGORITHM}+{AUDIO_RULES}"


def audio_edges(
    asset_id: uuid.UUID, mine: Fingerprint, others: dict[uuid.UUID, Fingerprint]
) -> list[dict[str, Any]]:
    """Near-duplicate edges between the asset and the other audio assets (one per pair, the
    smaller id as source like every similarity edge)."""
    edges = []
    for other_id, theirs in others.items():
        if other_id == asset_id:
            continue
        match = compare(mine, theirs)
        if match.score < AUDIO_NEAR_DUPLICATE_THRESHOLD:
            continue
        low, high = sorted((asset_id, other_id), key=str)
        edges.append(
            {
                "source_type": OwnerType.ASSET,
                "source_id": low,
                "source_asset_id": low,
                "target_type": OwnerType.ASSET,
                "target_id": high,
                "target_asset_id": high,
                "kind": SimilarityKind.NEAR_DUPLICATE,
                "score": round(min(1.0, match.score), 6),
                "details": {
                    "matched_s": round(match.matched_s, 3),
                    "shift_s": round(match.shift_s, 3),
                    "bit_error_rate": round(match.bit_error_rate, 4),
                    "duration_s": [round(mine.duration_s, 3), round(theirs.duration_s, 3)],
                },
            }
        )
    return edges


async def audio_output(ctx: StageContext, session: AsyncSession) -> AudioOutput | None:
    """The asset's fingerprint and (audio assets) its near-duplicate edges, or None."""
    kind = ctx.asset.kind
    if kind not in (AssetKind.AUDIO, AssetKind.VIDEO) or not available():
        return None
    try:
        path = ctx.blobs.local_path(ctx.asset.blob_key)
        mine = await ctx.run_sync(fingerprint_file, path)
    except (FingerprintError, UnreadableFileError) as exc:
        # A video without sound has nothing to fingerprint; the visual rules still run.
        log.info("no audio fingerprint for asset %s: %s", ctx.asset.id, exc)
        return None
    if kind is not AssetKind.AUDIO:
        return AudioOutput(mine, [])
    rows = await stage_repository.live_fingerprints(
        session, tenant_id=ctx.asset.tenant_id, kind=kind, model_name=MODEL_NAME, model_version=ALGORITHM
    )
    others = {aid: Fingerprint.from_bytes(duration, data) for aid, duration, data in rows}
    edges = await ctx.run_sync(audio_edges, ctx.asset.id, mine, others)
    return AudioOutput(mine, edges)


async def write_audio(session: AsyncSession, ctx: StageContext, output: AudioOutput) -> None:
    """Store the fingerprint and replace the asset's audio near-duplicate edges."""
    tenant_id, asset_id = ctx.asset.tenant_id, ctx.asset.id
    await replace_fingerprint(
        session,
        tenant_id=tenant_id,
        asset_id=asset_id,
        model_name=MODEL_NAME,
        model_version=ALGORITHM,
        duration_s=output.fingerprint.duration_s,
        fingerprint=output.fingerprint.to_bytes(),
    )
    if ctx.asset.kind is AssetKind.AUDIO:
        await replace_asset_edges(
            session,
            tenant_id=tenant_id,
            asset_id=asset_id,
            kinds=[SimilarityKind.NEAR_DUPLICATE],
            model_name=MODEL_NAME,
            model_version=output.edge_version,
            edges=output.edges,
        )
