"""Faces through the real stages: photos and a video with zoom, crop and cuts become face
tracks (one per on-screen appearance) clustered into people; the same person across photos and
video is one Person, different people never merge, and editor corrections survive reprocessing.
"""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.media import repository as media_repository
from app.people import repository, service
from app.people.models import Face, FaceTrack, Person
from tests.fixtures.faces import PEOPLE, FaceShot, FaceVideo, jpeg_of, make_face_video
from tests.jobs.stages.conftest import Harness

pytestmark = pytest.mark.models

DETECT = ("probe", "scenes", "detect")
SHOTS = (
    FaceShot(("obama3",), seconds=3.0, zoom=1.4, background=(40, 60, 90)),
    FaceShot((), seconds=2.0, background=(210, 210, 200)),
    FaceShot(("biden", "astronaut"), seconds=3.0, slide=0.12, background=(110, 40, 40)),
    FaceShot(("obama2",), seconds=3.0, slide=0.3, background=(30, 130, 60)),
)


@pytest.fixture(scope="module")
def face_video(tmp_path_factory: pytest.TempPathFactory) -> FaceVideo:
    return make_face_video(tmp_path_factory.mktemp("faces") / "faces.mp4", SHOTS)


async def _tracks(harness: Harness, asset_id: uuid.UUID) -> list[FaceTrack]:
    rows = await harness.rows(FaceTrack, FaceTrack.asset_id == asset_id)
    return sorted(rows, key=lambda t: (t.start_s, t.box_x))


def pairwise(truth: dict[uuid.UUID, str], found: dict[uuid.UUID, uuid.UUID | None]) -> tuple[float, float]:
    """Pairwise precision and recall of a clustering of tracks against the true identities."""
    tp = fp = fn = 0
    for a, b in itertools.combinations(truth, 2):
        same_truth = truth[a] == truth[b]
        same_found = found[a] is not None and found[a] == found[b]
        tp += same_truth and same_found
        fp += same_found and not same_truth
        fn += same_truth and not same_found
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


async def test_photos_and_video_cluster_into_people(harness: Harness, face_video: FaceVideo) -> None:
    photos = {
        name: await harness.ingest(f"{name}.jpg", jpeg_of(name)) for name in ("obama", "biden", "astronaut")
    }
    video = await harness.ingest("faces.mp4", face_video.path)
    for asset_id in (*photos.values(), video):
        await harness.chain(asset_id, DETECT)

    # One track per on-screen appearance of the video (a cut ends one), at its shot's times.
    tracks = await _tracks(harness, video)
    assert len(tracks) == face_video.appearances == 4
    starts = [0.0, 5.0, 5.0, 8.0]
    assert [round(t.start_s) for t in tracks] == starts
    assert all(t.face_count >= 2 and t.crop_blob_key for t in tracks)
    assert all(t.end_s - t.start_s > 2.0 for t in tracks)
    # The crops are the tenant's blobs (signed URLs serve them) and the blob sweep keeps them.
    crops = [t.crop_blob_key for t in tracks if t.crop_blob_key]

    async def owned(session: AsyncSession) -> tuple[set[str], bool]:
        kept = await media_repository.referenced_blob_keys(session, keys=crops)
        mine = await media_repository.tenant_owns_blob(session, tenant_id=harness.tenant.id, key=crops[0])
        return kept, mine

    assert await harness.execute(owned) == (set(crops), True)
    # Each box-overlap chain's best face was described once, by the descriptor model: a face
    # sliding out of frame between samples makes two chains, joined by their descriptors.
    faces = await harness.rows(Face, Face.asset_id == video)
    assert {f.track_id for f in faces} == {t.id for t in tracks}
    assert len(faces) < sum(t.face_count for t in tracks)
    assert {(f.model_name, f.dimension) for f in faces} == {("dlib-resnet-face", 128)}

    # Truth of each track: the photos are named; the video's by shot and position.
    video_truth = ["obama", "biden", "astronaut", "obama"]
    truth: dict[uuid.UUID, str] = {}
    found: dict[uuid.UUID, uuid.UUID | None] = {}
    for name, asset_id in photos.items():
        [track] = await _tracks(harness, asset_id)
        truth[track.id], found[track.id] = PEOPLE[name], track.person_id
    for track, name in zip(tracks, video_truth, strict=True):
        truth[track.id], found[track.id] = name, track.person_id
    precision, recall = pairwise(truth, found)
    assert precision == 1.0
    assert recall == 1.0
    assert await harness.count(Person) == 3


async def test_corrections_survive_reprocessing(harness: Harness, face_video: FaceVideo) -> None:
    obama = await harness.ingest("obama.jpg", jpeg_of("obama"))
    video = await harness.ingest("faces.mp4", face_video.path)
    for asset_id in (obama, video):
        await harness.chain(asset_id, DETECT)
    [photo_track] = await _tracks(harness, obama)
    first, biden, astronaut, last = await _tracks(harness, video)
    assert first.person_id == last.person_id == photo_track.person_id
    assert photo_track.person_id is not None
    assert biden.person_id is not None
    assert astronaut.person_id is not None
    joe, gone = biden.person_id, astronaut.person_id

    async def correct(session: object) -> uuid.UUID:
        assert isinstance(session, AsyncSession)
        tenant = harness.tenant.id
        await service.rename_person(session, tenant_id=tenant, actor="t", person_id=joe, name="Joe")
        await service.merge_people(session, tenant_id=tenant, actor="t", target_id=joe, source_ids=[gone])
        moved = await service.move_tracks(
            session, tenant_id=tenant, actor="t", track_ids=[last.id], person_id=None
        )
        return moved.id

    moved = await harness.execute(correct)
    await harness.run("detect", video)
    await harness.run("detect", obama)
    again = await _tracks(harness, video)
    assert [t.person_id for t in again] == [first.person_id, biden.person_id, biden.person_id, moved]
    # Locked: what the editor moved or merged in (the merge target's own track stays as it was).
    assert [t.locked for t in again] == [False, False, True, True]
    [photo_again] = await _tracks(harness, obama)
    assert photo_again.person_id == photo_track.person_id

    async def names(session: object) -> dict[uuid.UUID, str | None]:
        assert isinstance(session, AsyncSession)
        found = await repository.people_by_id(session, tenant_id=harness.tenant.id, ids=[joe])
        return {k: v.name for k, v in found.items()}

    assert await harness.execute(names) == {biden.person_id: "Joe"}


async def test_a_faceless_asset_has_no_tracks(harness: Harness, tmp_path: Path) -> None:
    video = make_face_video(
        tmp_path / "empty.mp4", (FaceShot((), seconds=2.0), FaceShot((), background=(220, 200, 40)))
    )
    asset_id = await harness.ingest("empty.mp4", video.path)
    runs = await harness.chain(asset_id, DETECT)
    assert await harness.count(FaceTrack, FaceTrack.asset_id == asset_id) == 0
    assert "dlib-resnet-face" in runs["detect"].output.model_versions
