"""The ocr stage: on-screen text of keyframes (video) and of the image itself (image assets).

Writes Detection(kind=text) rows: the recognised line, its recogniser confidence, a box
normalised to the frame ([0, 1] x, y, width, height), the scene and the scene's start time.

Text repeated across consecutive scenes (a caption or a logo that survives a cut) becomes ONE
detection: a line in scene n+1 continues a line of scene n when their texts match after
case-folding and whitespace collapsing (difflib ratio >= ``MERGE_TEXT_RATIO``, so one misread
character does not split it) and their boxes overlap (IoU >= ``MERGE_BOX_IOU``, the same place
on screen). The merged detection belongs to the FIRST scene that shows the text, with that
scene's start as its time, the reading of its most confident occurrence and the highest
confidence; a scene without a keyframe breaks the run. (How long the text stays on screen is
not stored: Detection has no end time.)

The asset's language is identified from the lines read (``inference.language``) when no
stage recorded one before: speech decides for a video, the text for a picture.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.assets import stage_repository
from app.core.enums import DetectionKind
from app.jobs.pipeline import StageName
from app.media.service import replace_detections
from inference.language import detect_language
from inference.registry import ModelRef
from inference.types import OcrResult
from jobs.registry import StageContext, StageOutput, StageRegistry
from jobs.stages.common import SceneRef, frame_of, load_scenes, permanent_errors, router_of

MERGE_TEXT_RATIO = 0.85
MERGE_BOX_IOU = 0.3
# Keyframes decoded and recognised at once: bounds memory (a 4K frame is 25 MB as RGB) while
# keeping both local inference threads busy.
CONCURRENCY = 4

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Line:
    """A recognised line of one scene, box normalised to the frame."""

    text: str
    score: float
    box: Box


@dataclass(slots=True)
class Run:
    """A line and its continuations in the scenes right after it."""

    first: SceneRef
    last: SceneRef
    best: Line
    key: str
    box: Box
    scenes: list[SceneRef] = field(default_factory=list)


def normalise(text: str) -> str:
    """Case-folded text with whitespace runs collapsed: what two readings must share."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def lines_of(result: OcrResult, width: int, height: int) -> list[Line]:
    """Lines of an OCR result that hold a letter or digit, boxes normalised to the frame."""
    lines = []
    for region in result.regions:
        text = region.text.strip()
        if not any(c.isalnum() for c in text):
            # A lone glyph ("■" for a plain white square in the fixture) is a shape the
            # recogniser forced into its alphabet, not text anyone would search for.
            continue
        x, y, w, h = region.box
        box = (
            min(1.0, max(0.0, x / width)),
            min(1.0, max(0.0, y / height)),
            min(1.0, max(0.0, w / width)),
            min(1.0, max(0.0, h / height)),
        )
        lines.append(Line(text, float(region.score), box))
    return lines


def merge_runs(found: list[tuple[SceneRef, list[Line]]]) -> list[Run]:
    """Lines of scenes in order, repeated lines of consecutive scenes merged into runs."""
    runs: list[Run] = []
    previous: list[Run] = []
    for scene, lines in found:
        current: list[Run] = []
        for line in lines:
            key = normalise(line.text)
            match = next(
                (
                    run
                    for run in previous
                    if run not in current
                    and run.last.ordinal == scene.ordinal - 1
                    and difflib.SequenceMatcher(None, run.key, key).ratio() >= MERGE_TEXT_RATIO
                    and iou(run.box, line.box) >= MERGE_BOX_IOU
                ),
                None,
            )
            if match is None:
                match = Run(first=scene, last=scene, best=line, key=key, box=line.box, scenes=[scene])
                runs.append(match)
            else:
                match.last = scene
                match.scenes.append(scene)
                # The latest position and reading carry the run on (captions drift slightly).
                match.box, match.key = line.box, key
                if line.score > match.best.score:
                    match.best = Line(line.text, line.score, match.best.box)
            current.append(match)
        previous = current
    return runs


def detection_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """Detection values of merged runs."""
    rows = []
    for run in runs:
        x, y, w, h = run.best.box
        rows.append(
            {
                "kind": DetectionKind.TEXT,
                "scene_id": run.first.id,
                "time_s": run.first.start_s,
                "label": run.best.text,
                "confidence": round(run.best.score, 4),
                "box_x": round(x, 5),
                "box_y": round(y, 5),
                "box_w": round(w, 5),
                "box_h": round(h, 5),
            }
        )
    return rows


async def run_ocr(ctx: StageContext) -> StageOutput:
    """Read on-screen text; replace the asset's text detections of the current OCR model."""
    await ctx.report_progress(0.0)
    router = await router_of(ctx)
    scenes = await load_scenes(ctx)
    model: ModelRef = router.model_for("ocr").ref
    found: list[tuple[SceneRef, list[Line]]] = []

    async def read(scene: SceneRef) -> tuple[SceneRef, list[Line], ModelRef | None]:
        image = await frame_of(ctx, scene)
        if image is None:
            return scene, [], None
        with permanent_errors(f"reading text in scene {scene.ordinal}"):
            result = await router.ocr(image)
        return scene, lines_of(result, int(image.shape[1]), int(image.shape[0])), result.model

    for start in range(0, len(scenes), CONCURRENCY):
        for scene, lines, used in await asyncio.gather(
            *(read(s) for s in scenes[start : start + CONCURRENCY])
        ):
            found.append((scene, lines))
            model = used or model
        await ctx.report_progress(min(len(scenes), start + CONCURRENCY) / len(scenes))
    rows = detection_rows(merge_runs(found))
    language = await ctx.run_sync(detect_language, "\n".join(str(row["label"]) for row in rows))
    tenant_id, asset_id = ctx.asset.tenant_id, ctx.asset.id

    async def write(session: AsyncSession) -> None:
        await replace_detections(
            session,
            tenant_id=tenant_id,
            asset_id=asset_id,
            kinds=[DetectionKind.TEXT],
            model_name=model.name,
            model_version=model.version,
            detections=rows,
        )
        if language is not None:
            # Speech (the transcribe stage) decides for a video; the picture's text only
            # when nothing was said.
            await stage_repository.set_language(
                session, asset_id=asset_id, language=language, unless_set=True
            )

    ctx.kept(model, [row["confidence"] for row in rows])
    return StageOutput(write=write, model_versions={model.name: model.version})


def register_stages(registry: StageRegistry) -> None:
    """Register the ocr stage."""
    registry.register(StageName.OCR, run_ocr, max_retries=3)
