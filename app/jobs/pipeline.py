"""The declared stage graph of the media pipeline (data only; ``jobs/`` runs it).

probe -> {scenes -> {ocr, detect}, transcribe} -> embed -> similarity -> index, with a
``text`` stage instead of scenes/transcribe/ocr/detect for text assets. ``transcribe`` needs
only the audio, so it runs beside ``scenes`` (the longest stage starts first; it links its
segments to the scenes if they are written by then, and ``embed`` links them in any case).
``embed`` waits for transcribe/ocr/detect because it embeds the text they produce. A stage
whose ``kinds`` exclude the asset's kind is recorded as SKIPPED with the reason, so the job
shows it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from app.core.enums import AssetKind

_ALL = frozenset(AssetKind)
_VISUAL = frozenset({AssetKind.VIDEO, AssetKind.IMAGE})


class StageName(enum.StrEnum):
    """Every stage of the media pipeline."""

    PROBE = "probe"
    TEXT = "text"
    SCENES = "scenes"
    TRANSCRIBE = "transcribe"
    OCR = "ocr"
    DETECT = "detect"
    EMBED = "embed"
    SIMILARITY = "similarity"
    INDEX = "index"


@dataclass(frozen=True, slots=True)
class StageSpec:
    """One node of the pipeline graph."""

    name: StageName
    after: tuple[StageName, ...]
    kinds: frozenset[AssetKind]
    # Share of the job's overall progress; weights of the stages that apply are normalised.
    weight: float


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A named DAG of stages, in a topological order."""

    name: str
    stages: tuple[StageSpec, ...]

    def stage(self, name: str) -> StageSpec:
        """The stage called ``name``."""
        for spec in self.stages:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def downstream(self, names: set[str]) -> set[str]:
        """``names`` and every stage that (transitively) depends on one of them."""
        result = set(names)
        for spec in self.stages:  # topological order: one pass suffices
            if any(dep in result for dep in spec.after):
                result.add(spec.name)
        return result


S = StageName
MEDIA_PIPELINE = Pipeline(
    name="media",
    stages=(
        StageSpec(S.PROBE, (), _ALL, weight=1.0),
        StageSpec(S.TEXT, (S.PROBE,), frozenset({AssetKind.TEXT}), weight=2.0),
        StageSpec(S.SCENES, (S.PROBE,), _ALL - {AssetKind.TEXT}, weight=3.0),
        StageSpec(S.TRANSCRIBE, (S.PROBE,), frozenset({AssetKind.VIDEO, AssetKind.AUDIO}), weight=8.0),
        StageSpec(S.OCR, (S.SCENES,), _VISUAL, weight=4.0),
        StageSpec(S.DETECT, (S.SCENES,), _VISUAL, weight=3.0),
        StageSpec(S.EMBED, (S.TEXT, S.TRANSCRIBE, S.OCR, S.DETECT), _ALL, weight=3.0),
        StageSpec(S.SIMILARITY, (S.EMBED,), _ALL, weight=1.0),
        StageSpec(S.INDEX, (S.SIMILARITY,), _ALL, weight=1.0),
    ),
)

PIPELINES: dict[str, Pipeline] = {MEDIA_PIPELINE.name: MEDIA_PIPELINE}
