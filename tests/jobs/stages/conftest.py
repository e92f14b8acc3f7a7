"""Fixtures of the analysis-stage tests: session-wide media and models, and a harness that runs
real stage functions with a real StageContext on the test's database and blob store.

Models load once per session for the harness's routers (a job runtime builds its own router
in its own services, as a worker process does). Media is generated once per session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.models import Asset
from app.assets.service import ingest_path
from app.core.container import Services
from app.core.settings import Settings
from app.jobs.models import Job
from app.tenancy.models import Tenant
from inference.cache import EmbeddingCache
from inference.config import InferenceConfig
from inference.local import ModelPool
from inference.router import InferenceRouter
from jobs.registry import StageContext, StageImpl, StageOutput
from jobs.stages.detect import run_detect
from jobs.stages.embed import run_embed
from jobs.stages.ocr import run_ocr
from jobs.stages.probe import run_probe
from jobs.stages.scenes import run_scenes
from jobs.stages.similarity import run_similarity
from jobs.stages.text import run_text
from jobs.stages.transcribe import run_transcribe
from tests.fixtures.media import (
    VIDEO_SENTENCE,
    SpeechClip,
    VideoClip,
    espeak_available,
    image_bytes,
    make_speech,
    make_video,
    photo,
    reencode_video,
)
from tests.fixtures.required import skip_unless_required

STAGES: dict[str, StageImpl] = {
    "probe": run_probe,
    "text": run_text,
    "scenes": run_scenes,
    "transcribe": run_transcribe,
    "ocr": run_ocr,
    "detect": run_detect,
    "embed": run_embed,
    "similarity": run_similarity,
}
VIDEO_CHAIN = ("probe", "scenes", "transcribe", "ocr", "detect", "embed", "similarity")
IMAGE_CHAIN = ("probe", "scenes", "ocr", "detect", "embed", "similarity")
AUDIO_CHAIN = ("probe", "scenes", "transcribe", "embed", "similarity")
TEXT_CHAIN = ("probe", "text", "embed", "similarity")


# --- media ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def stage_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this session's generated media lives."""
    return tmp_path_factory.mktemp("stage-media")


def require_espeak() -> None:
    """Skip when espeak-ng is missing (the speech fixtures need it)."""
    if not espeak_available():
        skip_unless_required(
            "espeak-ng is not installed (Debian package espeak-ng; scripts/install-system-deps.sh)"
        )


@pytest.fixture(scope="session")
def talking_video(stage_media: Path) -> VideoClip:
    """6 s, 25 fps: three 2 s shots (cuts at 2.0 and 4.0 s), "BREAKING NEWS" in the second,
    the espeak sentence VIDEO_SENTENCE as its audio."""
    require_espeak()
    voice = make_speech(stage_media / "voice.wav", [VIDEO_SENTENCE])
    return make_video(stage_media / "talking.mp4", speech=voice, captions=[None, "BREAKING NEWS", None])


@pytest.fixture(scope="session")
def speech_clip(stage_media: Path) -> SpeechClip:
    """Two espeak sentences with a planted 2 s pause (an audio asset)."""
    require_espeak()
    return make_speech(stage_media / "speech.wav")


def photo_video(
    path: Path,
    shots: Sequence[npt.NDArray[np.uint8]],
    *,
    shot_seconds: float = 2.0,
    lead_in_black_seconds: float = 0.0,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
) -> Path:
    """An H.264 MP4 of photographs (one shot each, slowly panning: motion inside a shot),
    after an optional black opening."""
    frames: list[npt.NDArray[np.uint8]] = []
    frames += [np.zeros((size[1], size[0], 3), np.uint8)] * round(lead_in_black_seconds * fps)
    for shot in shots:
        base = Image.fromarray(shot).resize((size[0] + 40, size[1] + 30))
        count = round(shot_seconds * fps)
        for i in range(count):
            dx = round(40 * i / count)
            frames.append(np.asarray(base.crop((dx, 15, dx + size[0], 15 + size[1])), dtype=np.uint8))
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast"}
        for index, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def duplicate_videos(stage_media: Path) -> dict[str, Path]:
    """The colour-shot fixture, its re-encoded copy (smaller, lower bitrate, no audio), and two
    photo videos that share only a 1 s black opening."""
    original = make_video(stage_media / "shots.mp4", captions=[None, "BREAKING NEWS", None]).path
    return {
        "original": original,
        "reencoded": reencode_video(
            original, stage_media / "shots-small.mp4", size=(256, 192), bitrate=150_000
        ),
        "opening_a": photo_video(
            stage_media / "opening-a.mp4",
            [photo("chelsea"), photo("coffee"), photo("rocket")],
            lead_in_black_seconds=1.0,
        ),
        "opening_b": photo_video(
            stage_media / "opening-b.mp4",
            [photo("astronaut"), photo("motorcycle"), photo("camera")],
            lead_in_black_seconds=1.0,
        ),
    }


def half_size_jpeg(image: npt.NDArray[np.uint8], quality: int = 50) -> bytes:
    """``image`` at half its size, JPEG-compressed at ``quality``."""
    pil = Image.fromarray(image)
    small = pil.resize((pil.width // 2, pil.height // 2), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def png(name: str) -> bytes:
    """A sample photo as PNG bytes."""
    return image_bytes(photo(name))


# --- models ----------------------------------------------------------------------------------

_POOLS: dict[str, ModelPool] = {}


def shared_pool(config: InferenceConfig) -> ModelPool:
    """One model pool per set of local options for the session: weights load once (a CLIP
    directory is a local option, so the CLIP test gets a pool of its own)."""
    options = config.local_options()
    return _POOLS.setdefault(repr(options), ModelPool(options))


@pytest.fixture(scope="session")
def stage_cache() -> EmbeddingCache:
    """An embedding cache shared by the tests' routers (keeps the bridge's label vectors)."""
    return EmbeddingCache()


def make_router(settings: Settings, cache: EmbeddingCache | None = None) -> InferenceRouter:
    """A router on the session's models, configured from ``settings`` as the stages' is."""
    config = InferenceConfig.from_settings(settings)
    return InferenceRouter(
        config, pool=shared_pool(config), cache=cache if cache is not None else EmbeddingCache()
    )


# --- the harness -----------------------------------------------------------------------------


def _write(path: Path, data: bytes | Path) -> None:
    path.write_bytes(data.read_bytes() if isinstance(data, Path) else data)


@dataclasses.dataclass
class StageRun:
    """What one stage run produced."""

    output: StageOutput
    progress: list[float]


class Harness:
    """Ingests files and runs stage functions on them like the runner does: a real
    StageContext, then ``output.write`` in one committed transaction."""

    def __init__(self, services: Services, tenant: Tenant, media_root: Path) -> None:
        self.services = services
        self.tenant = tenant
        self.media_root = media_root
        self.factory = services.session_factory

    async def ingest(self, name: str, data: bytes | Path, *, title: str | None = None) -> uuid.UUID:
        """Copy ``data`` into the allowed root as ``name`` and register it (no broker: its job's
        stages stay pending); the asset id."""
        path = self.media_root / name
        await asyncio.to_thread(_write, path, data)
        async with self.factory() as session:
            result = await ingest_path(
                session,
                services=self.services,
                tenant_id=self.tenant.id,
                path=path,
                actor="test",
                title=title,
            )
            await session.commit()
        return result.asset.id

    async def context(self, stage: str, asset_id: uuid.UUID, progress: list[float]) -> StageContext:
        """A StageContext as the runner builds it, on the asset's latest job."""
        async with self.factory() as session:
            asset = await session.get(Asset, asset_id)
            job = await session.scalar(
                select(Job).where(Job.asset_id == asset_id).order_by(Job.created_at.desc()).limit(1)
            )
        assert asset is not None
        assert job is not None

        async def report(fraction: float) -> None:
            progress.append(fraction)

        return StageContext(
            services=self.services,
            settings=self.services.settings,
            session_factory=self.factory,
            blobs=self.services.blobs,
            job=job,
            asset=asset,
            stage=stage,
            attempt=1,
            report_progress=report,
        )

    async def run(self, stage: str, asset_id: uuid.UUID) -> StageRun:
        """Run ``stage`` on the asset and commit its outputs."""
        progress: list[float] = []
        ctx = await self.context(stage, asset_id, progress)
        output = await STAGES[stage](ctx)
        if output.write is not None:
            async with self.factory() as session, session.begin():
                await output.write(session)
        return StageRun(output, progress)

    async def chain(self, asset_id: uuid.UUID, stages: Sequence[str]) -> dict[str, StageRun]:
        """Run ``stages`` in order."""
        return {stage: await self.run(stage, asset_id) for stage in stages}

    async def rows(self, model: Any, *where: Any) -> list[Any]:
        """Rows of ``model`` matching ``where``."""
        async with self.factory() as session:
            return list(await session.scalars(select(model).where(*where)))

    async def count(self, model: Any, *where: Any) -> int:
        """How many rows of ``model`` match ``where``."""
        async with self.factory() as session:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    async def asset(self, asset_id: uuid.UUID) -> Asset:
        """The asset row as stored now."""
        async with self.factory() as session:
            row = await session.get(Asset, asset_id)
        assert row is not None
        return row

    async def execute(self, fn: Any) -> Any:
        """Run ``fn(session)`` in a committed transaction."""
        session: AsyncSession
        async with self.factory() as session, session.begin():
            return await fn(session)


@pytest.fixture
async def harness(
    services: Services, tenant: Tenant, media_root: Path, stage_cache: EmbeddingCache
) -> AsyncIterator[Harness]:
    """A harness whose services hold a router on the session's models."""
    router = make_router(services.settings, stage_cache)
    services.inference = router
    try:
        yield Harness(services, tenant, media_root)
    finally:
        services.inference = None
        await router.aclose()
