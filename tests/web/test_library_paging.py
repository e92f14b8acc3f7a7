"""The library's pages: the first page, then the next ones scrolled in after it (a server of
more assets than one page holds)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.library import seed_library
from tests.fixtures.serve import ServeProcess
from tests.web.conftest import BrowserPage

PAGE_SIZE = 40  # web/src/pages/LibraryPage.tsx
ASSETS = PAGE_SIZE + 5
CARDS = "[data-testid=asset-card] .card-title"


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, playwright_browser: Any) -> Iterator[ServeProcess]:
    """A server over a library of ASSETS ready videos (written before it starts)."""
    tmp = tmp_path_factory.mktemp("library-paging")
    # In a thread of its own: Playwright's sync API runs an event loop in this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, seed_library(Path(tmp) / "data", ASSETS)).result()
    with ServeProcess.start(tmp, ready_within=400) as server:
        yield server


def _card_count(page: Any, count: int) -> None:
    page.wait_for_function(f"n => document.querySelectorAll('{CARDS}').length === n", arg=count)


def test_scrolling_loads_the_next_page_once(serve: ServeProcess, browser_page: BrowserPage) -> None:
    page = browser_page.open("/", serve.api_key)
    _card_count(page, PAGE_SIZE)
    page.get_by_role("button", name="Load more").scroll_into_view_if_needed()
    _card_count(page, ASSETS)
    titles = page.locator(CARDS).all_text_contents()
    assert sorted(titles) == [f"clip {i:03d}" for i in range(ASSETS)]
    assert page.get_by_role("button", name="Load more").count() == 0
    # A filter starts again from its own first page, without the pages scrolled in before.
    page.get_by_label("Title").fill("clip 04")
    _card_count(page, 5)
    assert sorted(page.locator(CARDS).all_text_contents()) == [f"clip {i:03d}" for i in range(40, 45)]
