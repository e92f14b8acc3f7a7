"""The explorer as an editor uses it, in Chromium against one real `mediakg serve`: upload a
talking video and a re-encoded copy through the page, watch them to READY, play the video from
a transcript line, search a spoken phrase and land on its second, walk the relation graph,
resolve the duplicate, rename a person found in uploaded photos, and see every page at desktop
and phone width, with a read key too.

The uploads run the whole pipeline with every real model (several minutes on two loaded cores
for the first, which loads the models): one server and one pair of uploads serve the module.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.faces import jpeg_of
from tests.fixtures.media import (
    FIRST_SENTENCE,
    SECOND_SENTENCE,
    SpeechClip,
    espeak_available,
    make_speech,
    make_video,
    reencode_video,
)
from tests.fixtures.required import skip_unless_required
from tests.fixtures.serve import ServeProcess, graphql_request
from tests.web.conftest import DESKTOP, BrowserPage, Screenshots

pytestmark = [pytest.mark.slow, pytest.mark.models, pytest.mark.timeout(900)]

# Model loading on first use and both pipelines on two loaded cores.
READY_WITHIN_MS = 600_000


@dataclass
class Uploaded:
    """The two assets the module's tests look at."""

    talking_id: str
    copy_id: str
    speech: SpeechClip


def _asset_ids(serve: ServeProcess) -> dict[str, str]:
    body = graphql_request(serve, "{ assets(first: 10) { edges { node { id title } } } }")
    return {edge["node"]["title"]: edge["node"]["id"] for edge in body["data"]["assets"]["edges"]}


@pytest.fixture(scope="module")
def uploaded(
    serve: ServeProcess,
    playwright_browser: Any,
    tmp_path_factory: pytest.TempPathFactory,
    screenshots: Screenshots,
) -> Uploaded:
    """Both videos dropped on the library page at once; returns when both jobs succeeded."""
    if not espeak_available():
        skip_unless_required("espeak-ng is not installed (Debian package espeak-ng)")
    media = tmp_path_factory.mktemp("media")
    speech = make_speech(media / "voice.wav", [FIRST_SENTENCE, SECOND_SENTENCE])
    # 3 shots of 3 s: longer than the speech, so every word lies inside the video.
    talking = make_video(media / "harbour.mp4", shot_seconds=3.0, speech=speech)
    copy = reencode_video(talking.path, media / "harbour-copy.mp4", size=(240, 180), bitrate=150_000)

    opened = BrowserPage(playwright_browser, serve.base, DESKTOP)
    try:
        page = opened.open("/", serve.api_key)
        page.get_by_text("No asset matches").wait_for()
        page.get_by_test_id("upload-input").set_input_files([str(talking.path), str(copy)])
        tasks = page.get_by_test_id("ingest-task")
        tasks.nth(1).wait_for()
        # The progress is live (jobProgress subscription): a stage name shows before the end.
        page.locator("[data-testid=ingest-task][data-status=RUNNING]").first.wait_for(timeout=READY_WITHIN_MS)
        screenshots.take(page, "upload")
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=ingest-task]')]"
            ".filter(t => t.dataset.status === 'SUCCEEDED').length === 2",
            timeout=READY_WITHIN_MS,
        )
        # The cards turned READY live (assetEvents), without a reload.
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=asset-card]')]"
            ".filter(c => c.dataset.status === 'READY').length === 2"
        )
        page.locator(".card img.thumb").first.wait_for()
        screenshots.take(page, "library")
    finally:
        opened.close()
    assert opened.errors == [], opened.errors
    ids = _asset_ids(serve)
    return Uploaded(talking_id=ids["harbour"], copy_id=ids["harbour-copy"], speech=speech)


def _player_time(page: Any) -> float:
    return float(page.get_by_test_id("player").evaluate("v => v.currentTime"))


def test_uploads_become_ready_assets(uploaded: Uploaded, serve: ServeProcess) -> None:
    body = graphql_request(
        serve,
        "query($id: ID!) { asset(id: $id) { status kind transcript(first: 5) { edges { node { text } } } } }",
        {"id": uploaded.talking_id},
    )
    asset = body["data"]["asset"]
    assert (asset["status"], asset["kind"]) == ("READY", "VIDEO")
    assert "market" in " ".join(edge["node"]["text"] for edge in asset["transcript"]["edges"])


def test_without_a_key_the_app_asks_for_one_and_names_a_refusal(
    serve: ServeProcess, browser_page: BrowserPage
) -> None:
    page = browser_page.open("/", None)
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Open").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.locator(".error-code").inner_text() == "UNAUTHENTICATED"
    assert page.evaluate("sessionStorage.getItem('mediakg.apiKey')") is None
    # The refused request is the one console error a browser logs for it (HTTP 401).
    browser_page.errors[:] = [e for e in browser_page.errors if "401" not in e]


def test_the_key_link_opens_the_library_and_leaves_the_address_bar(
    uploaded: Uploaded, serve: ServeProcess, browser_page: BrowserPage
) -> None:
    # serve's output here is a file, not a terminal: its link leaves the key out; at a
    # terminal on loopback it carries it in the fragment, as this one does.
    log = serve.log_path.read_text(encoding="utf-8")
    assert f"the explorer: {serve.base}/ (paste the admin key from" in log
    assert serve.api_key is not None
    assert serve.api_key not in log
    link = f"{serve.base}/#key={serve.api_key}"
    page = browser_page.page
    page.goto(link)
    page.get_by_test_id("library-grid").wait_for()
    assert "#key" not in page.url
    assert page.evaluate("sessionStorage.getItem('mediakg.apiKey')") == serve.api_key
    assert page.get_by_test_id("asset-card").count() == 2
    page.get_by_label("Kind").select_option("AUDIO")
    page.get_by_text("No asset matches").wait_for()
    assert "kind=AUDIO" in page.url
    page.go_back()
    page.get_by_test_id("library-grid").wait_for()
    assert page.get_by_test_id("asset-card").count() == 2


def test_clicking_a_transcript_line_seeks_the_player(
    uploaded: Uploaded, serve: ServeProcess, browser_page: BrowserPage, screenshots: Screenshots
) -> None:
    page = browser_page.open(f"/asset/{uploaded.talking_id}", serve.api_key)
    lines = page.get_by_test_id("transcript").get_by_role("button")
    lines.first.wait_for()
    assert lines.count() >= 2
    player = page.get_by_test_id("player")
    player.evaluate(
        "v => new Promise(r => v.readyState >= 1 ? r() : v.addEventListener('loadedmetadata', r))"
    )
    second = lines.nth(1)
    start = float(second.get_attribute("data-start") or "nan")
    assert "market" in second.inner_text()
    second.click()
    page.wait_for_function("() => document.querySelector('[data-testid=player]').seeking === false")
    assert abs(_player_time(page) - start) < 0.05
    # The spoken line is highlighted.
    assert second.get_attribute("aria-current") == "true"
    page.wait_for_function("() => document.querySelector('[data-testid=player]').readyState >= 2")
    # Asset.related names why: the re-encoded copy is a near duplicate.
    copy = page.get_by_test_id("related").get_by_role("listitem").filter(has_text="harbour-copy")
    assert "near duplicate" in copy.inner_text()
    screenshots.take(page, "asset")


def test_a_spoken_phrase_is_found_and_opens_at_its_second(
    uploaded: Uploaded, serve: ServeProcess, browser_page: BrowserPage, screenshots: Screenshots
) -> None:
    page = browser_page.open("/search", serve.api_key)
    page.get_by_role("searchbox", name="Search").fill("market every morning")
    page.get_by_role("button", name="Search", exact=True).click()
    first = page.get_by_test_id("hit-link").first
    first.wait_for()
    assert "q=market+every+morning" in page.url
    assert page.locator(".hit mark").count() >= 1
    assert "harbour" in first.inner_text()
    assert "relevance cutoff the server's default" in page.get_by_test_id("search-summary").inner_text()
    assert "relevance" in page.locator(".hit .score").first.inner_text()
    screenshots.take(page, "search")
    play_from = float(first.get_attribute("data-play-from") or "nan")
    # "market" is the sixth word of the second sentence, spoken after the pause espeak was told
    # to make: the hit starts where the word is said, inside that sentence, not at its start.
    assert uploaded.speech.pause_end + 0.5 <= play_from <= uploaded.speech.duration
    first.click()
    page.get_by_test_id("player").wait_for()
    page.wait_for_function(
        "t => Math.abs(document.querySelector('[data-testid=player]').currentTime - t) < 0.05", arg=play_from
    )
    assert f"t={play_from:.2f}" in page.url
    page.go_back()
    page.get_by_test_id("hit-link").first.wait_for()


def test_the_relation_graph_expands_and_clicks_through(
    uploaded: Uploaded, serve: ServeProcess, browser_page: BrowserPage, screenshots: Screenshots
) -> None:
    page = browser_page.open(f"/relations/{uploaded.talking_id}", serve.api_key)
    nodes = page.get_by_test_id("graph-nodes").get_by_role("listitem")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=graph-nodes] li').length >= 2")
    copy = nodes.filter(has_text="harbour-copy")
    assert "near duplicate" in copy.inner_text()
    copy.get_by_role("button", name="expand").click()
    page.locator("[data-testid=graph-nodes] li[data-expanded=true]", has_text="harbour-copy").wait_for()
    assert page.locator("[data-testid=graph] canvas").count() >= 1
    screenshots.take(page, "relations")
    copy.get_by_role("link").click()
    page.get_by_role("heading", name="harbour-copy").wait_for()


def test_a_duplicate_is_resolved_by_keeping_one(
    uploaded: Uploaded, serve: ServeProcess, browser_page: BrowserPage, screenshots: Screenshots
) -> None:
    page = browser_page.open("/duplicates", serve.api_key)
    cluster = page.get_by_test_id("cluster")
    cluster.wait_for()
    assert "2 assets" in cluster.inner_text()
    # Size and frame differ between the copies: those rows are marked.
    assert page.locator("tr.differs th", has_text="frame").count() == 1
    screenshots.take(page, "duplicates")
    # The original is kept (its column), its copy hidden from lists and search.
    titles = [t.strip() for t in cluster.locator("thead th").all_inner_texts()[1:]]
    original = next(i for i, title in enumerate(titles) if "copy" not in title)
    cluster.get_by_role("button", name="Keep this one").nth(original).click()
    page.get_by_text("No duplicates found.").wait_for()
    assert set(_asset_ids(serve)) == {"harbour"}
    body = graphql_request(serve, "{ duplicates(first: 5) { totalCount } }")
    assert body["data"]["duplicates"]["totalCount"] == 0


def test_operations_people_and_error_codes(
    uploaded: Uploaded, serve: ServeProcess, browser_page: BrowserPage, screenshots: Screenshots
) -> None:
    page = browser_page.open("/operations", serve.api_key)
    page.get_by_role("heading", name="Backends").wait_for()
    assert page.locator(".backends li").count() >= 3
    screenshots.take(page, "operations")
    page.get_by_role("link", name="People").click()
    page.get_by_role("heading", name="People").wait_for()
    # An ID the API did not issue: the error shows with its code.
    page.goto(f"{serve.base}/asset/not-an-id")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.locator(".error-code").inner_text().strip() != ""


def test_keyboard_reaches_the_pages(
    uploaded: Uploaded, serve: ServeProcess, browser_page: BrowserPage
) -> None:
    page = browser_page.open("/", serve.api_key)
    page.get_by_test_id("library-grid").wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for _ in range(2):  # from the skip link over Library to Search
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Search"
    page.keyboard.press("Enter")
    page.get_by_role("searchbox", name="Search").wait_for()
    assert page.url.endswith("/search")


def test_a_read_key_gets_read_only_controls(
    uploaded: Uploaded, serve: ServeProcess, browser_page: BrowserPage, screenshots: Screenshots
) -> None:
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.entrypoints.cli",
            "keys",
            "create",
            "--name",
            "viewer",
            "--scopes",
            "read",
        ],
        env=serve.env,
        cwd=serve.log_path.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    read_key = created.stdout.strip().splitlines()[-1]
    page = browser_page.open("/", read_key)
    page.get_by_test_id("library-grid").wait_for()
    # The key's scopes are probed beside the first page's queries: the badge follows them.
    page.get_by_text("read-only", exact=True).wait_for()
    page.get_by_text("This key can only read: uploads are off.").wait_for()
    assert page.get_by_test_id("upload-input").count() == 0
    page.get_by_test_id("asset-card").get_by_role("link", name="harbour", exact=True).click()
    page.get_by_test_id("transcript").wait_for()
    assert page.get_by_role("button", name="Save").count() == 0
    assert page.get_by_role("heading", name="Audit trail").count() == 0
    screenshots.take(page, "readonly")


def test_the_library_fits_a_phone(
    uploaded: Uploaded, serve: ServeProcess, phone_page: BrowserPage, screenshots: Screenshots
) -> None:
    page = phone_page.open("/", serve.api_key)
    page.get_by_test_id("library-grid").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshots.take(page, "phone")


def test_graphiql_loads_from_this_server(
    serve: ServeProcess, browser_page: BrowserPage, screenshots: Screenshots
) -> None:
    page = browser_page.open("/", serve.api_key)
    page.get_by_role("heading", name="Library").wait_for()
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    # Opened from the explorer's tab, GraphiQL sends its key: the schema loads (introspection).
    page.goto(f"{serve.base}/graphql")
    page.locator(".graphiql-container .graphiql-editor").first.wait_for()
    page.get_by_role("button", name="Show Documentation Explorer").click()
    page.get_by_text("Query", exact=True).first.wait_for()
    assert seen
    assert all(url.startswith((serve.base, "data:")) for url in seen), seen
    screenshots.take(page, "graphiql")


def test_content_urls_answer_byte_ranges(uploaded: Uploaded, serve: ServeProcess) -> None:
    body = graphql_request(
        serve, "query($id: ID!) { asset(id: $id) { contentUrl sizeBytes } }", {"id": uploaded.talking_id}
    )
    asset = body["data"]["asset"]
    request = urllib.request.Request(serve.base + asset["contentUrl"], headers={"Range": "bytes=4-11"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes 4-11/{asset['sizeBytes']}"
        assert response.read() == b"ftypisom"  # an MP4's first box: size (4 bytes), then its type


def test_a_person_is_renamed_on_the_people_page(
    uploaded: Uploaded,
    serve: ServeProcess,
    browser_page: BrowserPage,
    screenshots: Screenshots,
    tmp_path: Path,
) -> None:
    # Two photos of one man and one of another: faces the pipeline groups into two people.
    for name in ("obama", "obama2", "biden"):
        (tmp_path / f"{name}.jpg").write_bytes(jpeg_of(name))
    page = browser_page.open("/", serve.api_key)
    photos = [str(tmp_path / f"{name}.jpg") for name in ("obama", "obama2", "biden")]
    page.get_by_test_id("upload-input").set_input_files(photos)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=ingest-task]')]"
        ".filter(t => t.dataset.status === 'SUCCEEDED').length === 3",
        timeout=READY_WITHIN_MS,
    )
    page.get_by_role("link", name="People").click()
    people = page.get_by_test_id("person")
    people.first.wait_for()
    assert people.count() == 2
    grouped = people.filter(has=page.locator(".faces li:nth-child(2)"))
    grouped.get_by_test_id("person-name").fill("Barack")
    grouped.get_by_role("button", name="Rename").click()
    page.get_by_role("heading", name="Barack").wait_for()
    body = graphql_request(serve, "{ people(first: 10) { edges { node { name faceCount } } } }")
    names = {edge["node"]["name"]: edge["node"]["faceCount"] for edge in body["data"]["people"]["edges"]}
    assert names["Barack"] == 2
    screenshots.take(page, "people")


def _card_titles(page: Any, expected: list[str]) -> None:
    """Wait until the library grid shows exactly ``expected`` (sorted titles)."""
    page.wait_for_function(
        "expected => JSON.stringify([...document.querySelectorAll('[data-testid=asset-card] .card-title')]"
        ".map(t => t.textContent).sort()) === JSON.stringify(expected)",
        arg=sorted(expected),
    )


def test_the_library_filters_by_person_and_language(
    uploaded: Uploaded, serve: ServeProcess, browser_page: BrowserPage
) -> None:
    # After the people test: Barack appears in two photos, the video speaks English.
    page = browser_page.open("/?language=en", serve.api_key)
    _card_titles(page, ["harbour"])
    assert page.get_by_label("Language").input_value() == "en"
    page.get_by_label("Language").select_option("")
    _card_titles(page, ["biden", "harbour", "obama", "obama2"])
    page.get_by_label("Person").select_option(label="Barack (2)")
    _card_titles(page, ["obama", "obama2"])
    assert "person=" in page.url
    page.go_back()
    _card_titles(page, ["biden", "harbour", "obama", "obama2"])
    page.go_back()
    _card_titles(page, ["harbour"])
    assert page.get_by_label("Language").input_value() == "en"
