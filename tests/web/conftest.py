"""The explorer in a real browser: Debian's Chromium driven by Playwright (no browser download),
against a real `mediakg serve` per test module, and the screenshots docs/explorer.md shows.

Every page a test opens fails the test on any console error or uncaught exception.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.required import skip_unless_required
from tests.fixtures.serve import ServeProcess

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "web" / "dist"
SHOTS = ROOT / "docs" / "explorer"
DOC = ROOT / "docs" / "explorer.md"
CHROMIUM = Path("/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[Any]:
    """Chromium, headless; skipped (unless services are required) without it or a build."""
    if not CHROMIUM.exists():
        skip_unless_required("Debian chromium is not installed (scripts/install-system-deps.sh)")
    if not (DIST / "index.html").is_file():
        skip_unless_required("the explorer is not built (make web: npm ci && npm run build in web/)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a dev dependency
        skip_unless_required("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, playwright_browser: Any) -> Iterator[ServeProcess]:
    """One real server for the module (its pipeline runs every model in-process)."""
    # The server warms every model before it answers /readyz: minutes on two loaded cores.
    with ServeProcess.start(tmp_path_factory.mktemp("explorer"), ready_within=400) as server:
        yield server


class BrowserPage:
    """A page of a fresh browser context that records console errors."""

    def __init__(self, browser: Any, base: str, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url', '')})")

    def open(self, path: str, key: str | None) -> Any:
        """Open ``path`` of the app with ``key`` in the fragment, as `mediakg serve` prints it."""
        self.page.goto(f"{self.base}{path}" + (f"#key={key}" if key else ""))
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def browser_page(playwright_browser: Any, serve: ServeProcess) -> Iterator[BrowserPage]:
    opened = BrowserPage(playwright_browser, serve.base, DESKTOP)
    try:
        yield opened
    finally:
        opened.close()
    assert opened.errors == [], f"console errors: {opened.errors}"


@pytest.fixture
def phone_page(playwright_browser: Any, serve: ServeProcess) -> Iterator[BrowserPage]:
    opened = BrowserPage(playwright_browser, serve.base, PHONE)
    try:
        yield opened
    finally:
        opened.close()
    assert opened.errors == [], f"console errors: {opened.errors}"


_SECTION = re.compile(r"(<!-- screenshots:start -->\n).*?(<!-- screenshots:end -->)", re.S)


PAGES = {
    "library": "Library: the grid with keyframe thumbnails, filters and facets (1280x800)",
    "upload": "Library: an upload's job progress, live",
    "asset": "Asset: player, scene timeline, detection tracks, transcript, jobs",
    "search": "Search: moments with highlighted snippets, opening the asset at the time code",
    "duplicates": "Duplicates: clusters side by side, differences marked",
    "relations": "Relations: the graph around an asset (Cytoscape.js)",
    "people": "People: faces grouped by person; rename, merge, move faces",
    "operations": "Operations: backends, queues, workers, breakers",
    "readonly": "A read key: read-only controls",
    "phone": "Library at 390 px wide",
    "graphiql": "GraphiQL at /graphql, served locally",
}
"""Every screenshot docs/explorer.md shows, in its order: name (docs/explorer/<name>.png) and
caption."""


class Screenshots:
    """Screenshots of this run: taken every run (a page that cannot render fails the test),
    written to docs/explorer/ and listed in docs/explorer.md only with
    ``MEDIAKG_WRITE_SCREENSHOTS=1``, so a test run leaves the checkout as it found it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def take(self, page: Any, name: str) -> None:
        assert name in PAGES, name
        self.directory.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(self.directory / f"{name}.png"))

    def write_doc(self) -> None:
        if self.directory != SHOTS or not DOC.exists():
            return
        lines = [
            f"### {caption}\n\n![{caption}](explorer/{name}.png)\n"
            for name, caption in PAGES.items()
            if (SHOTS / f"{name}.png").exists()
        ]
        text = DOC.read_text(encoding="utf-8")
        DOC.write_text(
            _SECTION.sub(lambda m: m.group(1) + "\n".join(lines) + m.group(2), text), encoding="utf-8"
        )


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Screenshots]:
    writing = os.environ.get("MEDIAKG_WRITE_SCREENSHOTS", "") not in ("", "0")
    shots = Screenshots(SHOTS if writing else tmp_path_factory.mktemp("screenshots"))
    yield shots
    shots.write_doc()


def npm() -> str:
    """The npm binary, or a skip (a failure when services are required)."""
    found = shutil.which("npm")
    if found is None:
        skip_unless_required("npm is not installed")
    assert found is not None
    return found
