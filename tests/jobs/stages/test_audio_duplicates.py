"""The similarity stage on audio: every audio asset (and a video's sound track) gets its
Chromaprint fingerprint stored; audio assets get near_duplicate edges by the length-aware rule,
re-encodes linked and an episode that only shares the jingle not; a rerun changes nothing."""

from __future__ import annotations

import pytest

from app.core.enums import OwnerType, SimilarityKind
from app.media.models import AudioFingerprint, SimilarityEdge
from inference.audio_fingerprint import available
from tests.fixtures.audio_episodes import SPEECH_A, make_episodes
from tests.fixtures.media import espeak_available, make_speech, make_video
from tests.fixtures.required import skip_unless_required
from tests.jobs.stages.conftest import Harness

CHAIN = ("probe", "similarity")


@pytest.fixture(autouse=True)
def _tools() -> None:
    if not available():
        skip_unless_required("fpcalc is not installed (libchromaprint-tools; scripts/install-system-deps.sh)")
    if not espeak_available():
        skip_unless_required("espeak-ng is not installed (scripts/install-system-deps.sh)")


async def test_re_encoded_episodes_are_linked_and_a_shared_jingle_is_not(
    harness: Harness, tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("episodes")
    episodes = make_episodes(directory)
    # A video whose sound track is long enough to fingerprint (Chromaprint needs a few seconds).
    voice = make_speech(directory / "voice.wav", [SPEECH_A])
    talking_video = make_video(directory / "talking.mp4", speech=voice)
    ids = {}
    for name, path in [
        ("a", episodes.a),
        ("b", episodes.b),
        ("a_aac", episodes.a_aac),
        ("a_mp3", episodes.a_mp3),
    ]:
        ids[name] = await harness.ingest(path.name, path, title=name)
        await harness.chain(ids[name], CHAIN)
    video = await harness.ingest("talking.mp4", talking_video.path)
    await harness.chain(video, CHAIN)

    prints = await harness.rows(AudioFingerprint)
    assert sorted((p.asset_id, p.model_name, p.model_version) for p in prints) == sorted(
        (asset_id, "chromaprint", "chromaprint-2") for asset_id in [*ids.values(), video]
    )
    names = {asset_id: name for name, asset_id in ids.items()}

    async def pairs() -> list[tuple[str, str, float]]:
        edges = await harness.rows(SimilarityEdge, SimilarityEdge.kind == SimilarityKind.NEAR_DUPLICATE)
        assert all(e.source_type == OwnerType.ASSET and e.model_version == "chromaprint-2+ad1" for e in edges)
        return sorted((*sorted((names[e.source_asset_id], names[e.target_asset_id])), e.score) for e in edges)

    found = await pairs()
    assert [(x, y) for x, y, _ in found] == [("a", "a_aac"), ("a", "a_mp3"), ("a_aac", "a_mp3")]
    assert all(score >= 0.95 for _, _, score in found)
    # A rerun (a redelivered message, a reprocess) replaces its own rows: the same edges.
    await harness.run("similarity", ids["a"])
    assert await pairs() == found
    assert await harness.count(AudioFingerprint) == 5
