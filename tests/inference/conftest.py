"""Session-wide models and media for the inference tests.

Models are loaded once per session through one :class:`ModelPool`; each test gets its own
router (its own event loop, worker threads and batcher) on top of that pool. Media is made once
per session in a temporary directory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from inference.cache import EmbeddingCache
from inference.config import InferenceConfig
from inference.local import ModelPool
from inference.router import InferenceRouter
from tests.fixtures.media import (
    VIDEO_SENTENCE,
    SpeechClip,
    VideoClip,
    espeak_available,
    make_speech,
    make_video,
    photo,
)
from tests.fixtures.required import skip_unless_required

HAARCASCADES = Path("/usr/share/opencv4/haarcascades")


@pytest.fixture(scope="session")
def model_pool() -> ModelPool:
    """Every model the session loads, loaded at most once."""
    return ModelPool(InferenceConfig().local_options())


@pytest.fixture(scope="session")
def shared_cache() -> EmbeddingCache:
    """A cache shared by routers across tests (keeps the bridge's 1000 label-name vectors)."""
    return EmbeddingCache()


@pytest.fixture
async def router(model_pool: ModelPool, shared_cache: EmbeddingCache) -> AsyncIterator[InferenceRouter]:
    """A default-configured router on the session's models."""
    r = InferenceRouter(InferenceConfig(), pool=model_pool, cache=shared_cache)
    try:
        yield r
    finally:
        await r.aclose()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this session's generated media lives."""
    return tmp_path_factory.mktemp("media")


def _require_espeak() -> None:
    if not espeak_available():
        skip_unless_required(
            "espeak-ng is not installed (Debian package espeak-ng; scripts/install-system-deps.sh)"
        )


@pytest.fixture(scope="session")
def speech(media_dir: Path) -> SpeechClip:
    """Two espeak-ng sentences with a 2 s SSML pause between them."""
    _require_espeak()
    return make_speech(media_dir / "speech.wav")


@pytest.fixture(scope="session")
def video(media_dir: Path) -> VideoClip:
    """6 s, 25 fps H.264: three 2 s shots (cuts at 2.0 and 4.0 s), a caption in the second, speech."""
    _require_espeak()
    voice = make_speech(media_dir / "video-voice.wav", [VIDEO_SENTENCE])
    return make_video(media_dir / "video.mp4", speech=voice, captions=[None, "BREAKING NEWS", None])


@pytest.fixture(scope="session")
def silent_video(media_dir: Path) -> VideoClip:
    """The same shots and caption without an audio track (needs no espeak-ng)."""
    return make_video(media_dir / "silent.mp4", captions=[None, "BREAKING NEWS", None])


@pytest.fixture(scope="session")
def photos() -> dict[str, npt.NDArray[np.uint8]]:
    """scikit-image's sample photos by name."""
    return {name: photo(name) for name in ("chelsea", "coffee", "astronaut", "rocket")}


@pytest.fixture(scope="session")
def haarcascades() -> Path:
    """Debian opencv-data's cascades, or skip."""
    if not (HAARCASCADES / "haarcascade_frontalface_default.xml").is_file():
        skip_unless_required("Debian opencv-data is not installed (scripts/install-system-deps.sh)")
    return HAARCASCADES
