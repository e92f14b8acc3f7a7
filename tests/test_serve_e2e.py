"""`mediakg serve` on the embedded default, as a user runs it: a real process on a free
loopback port, `mediakg ingest` beside it, then GraphQL over HTTP sees the asset,
and the server's own workers process it until search finds it."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inference.models.vision import imagenet_class_names
from tests.fixtures.media import (
    VIDEO_SENTENCE,
    espeak_available,
    image_bytes,
    make_speech,
    make_video,
    photo,
)
from tests.fixtures.required import skip_unless_required
from tests.fixtures.serve import ServeProcess

pytestmark = [pytest.mark.slow, pytest.mark.models]


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# The admin key file `mediakg serve` writes on first start, by server base URL.
_KEY_FILES: dict[str, Path] = {}


def _graphql(base: str, query: str) -> dict[str, Any]:
    # As the README does it: curl -H "Authorization: Bearer $(cat var/admin-api-key)".
    key = _KEY_FILES[base].read_text().strip()
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body: dict[str, Any] = json.loads(response.read())
        return body


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    media = tmp_path / "media"
    media.mkdir()
    with ServeProcess.start(tmp_path, allowed_roots=media) as serve:
        _KEY_FILES[serve.base] = tmp_path / "data" / "admin-api-key"
        yield serve.base, serve.env


def test_first_start_writes_an_admin_key_file_the_api_requires(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, _env = server
    key_file = _KEY_FILES[base]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = key_file.read_text().strip()
    assert secret.startswith("mkg_")
    log = (tmp_path / "serve.log").read_text()
    assert str(key_file) in log
    assert secret not in log
    query = "{ systemStatus { workersAlive } }"
    anonymous = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(anonymous, timeout=10)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert _graphql(base, query) == {"data": {"systemStatus": {"workersAlive": 1}}}


def _wait_jobs_done(base: str, count: int, *, within: float) -> dict[str, str]:
    """Poll until ``count`` assets each have a finished job; return title -> job status."""
    query = "{ assets(first: 10) { edges { node { title jobs(first: 1) { edges { node { status } } } } } } }"
    deadline = time.monotonic() + within
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        edges = _graphql(base, query)["data"]["assets"]["edges"]
        statuses = {
            e["node"]["title"]: e["node"]["jobs"]["edges"][0]["node"]["status"]
            for e in edges
            if e["node"]["jobs"]["edges"]
        }
        if len(statuses) == count and set(statuses.values()) <= {"SUCCEEDED", "FAILED", "CANCELLED"}:
            break
        time.sleep(0.5)
    return statuses


def test_ingest_then_query_assets_over_http(server: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    base, env = server
    assert _get(f"{base}/healthz") == (200, {"status": "ok"})
    assert _get(f"{base}/readyz") == (200, {"status": "ready"})

    note = Path(env["MEDIAKG_ALLOWED_ROOTS"]) / "meeting-notes.md"
    note.write_text("# Meeting notes\n\nThe launch moves to March.\n")
    ingest = subprocess.run(
        [sys.executable, "-m", "app.entrypoints.cli", "ingest", str(note), "--tag", "notes"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ingest.returncode == 0, ingest.stderr

    listing = "{ assets(first: 10) { edges { node { title kind tags mimeType } } } }"
    body = _graphql(base, listing)
    assert body == {
        "data": {
            "assets": {
                "edges": [
                    {
                        "node": {
                            "title": "meeting-notes",
                            "kind": "TEXT",
                            "tags": ["notes"],
                            "mimeType": "text/markdown",
                        }
                    }
                ]
            }
        }
    }

    # The server's own workers (memory:// broker) run the whole text pipeline with the real
    # models, then the document is searchable.
    assert _wait_jobs_done(base, 1, within=180) == {"meeting-notes": "SUCCEEDED"}
    found = _graphql(
        base,
        '{ search(query: {text: "launch March", mode: TEXT}, first: 3)'
        " { edges { node { asset { title } highlights { fragment } } } } }",
    )
    hits = found["data"]["search"]["edges"]
    assert hits[0]["node"]["asset"]["title"] == "meeting-notes"
    assert any("<mark>launch</mark>" in h["fragment"] for h in hits[0]["node"]["highlights"])


def test_serve_processes_sample_video_and_photo_end_to_end(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """The embedded default as a user runs it: one `mediakg serve` process analyses a talking
    video (cuts, speech, on-screen caption) and a photo with every real model, then GraphQL
    shows the graph and search finds the caption's scene."""
    if not espeak_available():
        skip_unless_required("espeak-ng is not installed (Debian package espeak-ng)")
    base, env = server
    media = Path(env["MEDIAKG_ALLOWED_ROOTS"])
    voice = make_speech(tmp_path / "voice.wav", [VIDEO_SENTENCE])
    make_video(media / "news.mp4", speech=voice, captions=[None, "BREAKING NEWS", None])
    (media / "cat.png").write_bytes(image_bytes(photo("chelsea")))
    ingest = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.entrypoints.cli",
            "ingest",
            str(media / "news.mp4"),
            str(media / "cat.png"),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ingest.returncode == 0, ingest.stderr

    # First use loads whisper, PP-OCR, MobileNetV2 and MiniLM inside the server process.
    assert _wait_jobs_done(base, 2, within=400) == {"news": "SUCCEEDED", "cat": "SUCCEEDED"}

    graph = _graphql(
        base,
        "{ assets(first: 10, orderBy: {field: TITLE, direction: ASC}) { edges { node { title kind"
        " scenes(first: 10) { edges { node { startSeconds"
        " detections(first: 10) { edges { node { kind label modelName } } } } } }"
        " transcript(first: 10) { edges { node { text modelName } } } } } } }",
    )
    assert "errors" not in graph, graph
    nodes = {e["node"]["title"]: e["node"] for e in graph["data"]["assets"]["edges"]}
    news, cat = nodes["news"], nodes["cat"]
    assert (news["kind"], cat["kind"]) == ("VIDEO", "IMAGE")
    assert [s["node"]["startSeconds"] for s in news["scenes"]["edges"]] == pytest.approx(
        [0.0, 2.0, 4.0], abs=0.04
    )
    texts = [
        d["node"]["label"]
        for s in news["scenes"]["edges"]
        for d in s["node"]["detections"]["edges"]
        if d["node"]["kind"] == "TEXT"
    ]
    assert texts == ["BREAKING NEWS"]
    spoken = " ".join(t["node"]["text"] for t in news["transcript"]["edges"]).lower()
    assert "media library" in spoken, (VIDEO_SENTENCE, spoken)
    # `mediakg ingest` is bulk ingest: the batch queue, whose speech model is the accurate one
    # (routing defaults, docs/models.md "Routing").
    assert {t["node"]["modelName"] for t in news["transcript"]["edges"]} == {"whisper-base"}
    [cat_scene] = cat["scenes"]["edges"]
    labels = [d["node"] for d in cat_scene["node"]["detections"]["edges"] if d["node"]["kind"] == "LABEL"]
    assert labels
    assert all(d["modelName"] == "mobilenet_v2-imagenet" for d in labels)
    # ImageNet's domestic cats are classes 281-285; chelsea's top label is one of them.
    assert labels[0]["label"] in imagenet_class_names()[281:286], labels

    found = _graphql(
        base,
        '{ search(query: {text: "breaking news", mode: HYBRID}, first: 3)'
        " { edges { node { asset { title } startSeconds } } } }",
    )
    first = found["data"]["search"]["edges"][0]["node"]
    assert first["asset"]["title"] == "news"
    assert first["startSeconds"] == pytest.approx(2.0, abs=0.04)
