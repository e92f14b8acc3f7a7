"""The explorer's first load: the library of 500 assets in Chromium, against a real
``mediakg serve`` (embedded default), and the size of the app's JavaScript.

    .venv/bin/python benchmarks/explorer_bench.py [--assets 500] [--runs 5]

The assets (each with a scene and its own thumbnail blob) are written through the service's
models and blob store before the server starts serving them; the browser then opens the
library in a fresh context (an empty HTTP cache) for every run. Measured from navigation start
(``performance.timeOrigin``) to the grid showing its first page of cards, and to every card's
thumbnail loaded. The baseline in the same run: the GraphiQL page (/graphql) from navigation
start to its editor. Targets: library first load <= 1 s, JavaScript <= 400 kB gzipped.
Prints a markdown section (benchmarks/run.py collects it into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.library import seed_library
from tests.fixtures.serve import ServeProcess

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"
PAGE_SIZE = 40  # the library's first page (web/src/pages/LibraryPage.tsx)


def js_sizes() -> tuple[int, int]:
    """Gzipped bytes of the JavaScript the library's first load fetches, and of all of it."""
    index = (DIST / "index.html").read_text(encoding="utf-8")
    total = first = 0
    for path in sorted((DIST / "assets").glob("*.js")):
        size = len(gzip.compress(path.read_bytes(), compresslevel=9))
        total += size
        if path.name in index:
            first += size
    return first, total


def measure(base: str, key: str, runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {"grid": [], "thumbs": [], "graphiql": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(f"{base}/#key={key}", wait_until="commit")
                grid = page.wait_for_function(
                    f"() => document.querySelectorAll('[data-testid=asset-card]').length >= {PAGE_SIZE}"
                    " && performance.now()",
                    polling="raf",
                    timeout=60_000,
                )
                times["grid"].append(float(grid.json_value()))
                thumbs = page.wait_for_function(
                    "() => { const imgs = [...document.querySelectorAll('.card img')];"
                    f" return imgs.length >= {PAGE_SIZE} && imgs.every(i => i.complete && i.naturalWidth > 0)"
                    " && performance.now(); }",
                    polling="raf",
                    timeout=60_000,
                )
                times["thumbs"].append(float(thumbs.json_value()))
                context.close()
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(f"{base}/graphql", wait_until="commit")
                editor = page.wait_for_function(
                    "() => document.querySelector('.graphiql-editor .CodeMirror') && performance.now()",
                    polling="raf",
                    timeout=60_000,
                )
                times["graphiql"].append(float(editor.json_value()))
                context.close()
        finally:
            browser.close()
    return times


def query_ms(serve: ServeProcess, runs: int) -> list[float]:
    """The library's first-page query alone (HTTP round trip from this process), for scale."""
    document = (ROOT / "web" / "src" / "operations" / "library.graphql").read_text(encoding="utf-8")
    body = json.dumps(
        {"query": document, "operationName": "ExplorerLibrary", "variables": {"first": PAGE_SIZE}}
    ).encode()
    times = []
    for _ in range(runs):
        request = urllib.request.Request(f"{serve.base}/graphql", data=body, headers=serve.headers())
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        times.append((time.perf_counter() - started) * 1000)
        assert len(answer["data"]["assets"]["edges"]) == PAGE_SIZE, answer
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not (DIST / "index.html").is_file():
        raise SystemExit("the explorer is not built: make web")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        asyncio.run(seed_library(data_dir, args.assets))
        with ServeProcess.start(Path(tmp), ready_within=400) as serve:
            assert serve.api_key is not None
            measure(serve.base, serve.api_key, 1)  # the server's own first requests, not measured
            times = measure(serve.base, serve.api_key, args.runs)
            times["query"] = query_ms(serve, args.runs)
    first_js, all_js = js_sizes()
    load = os.getloadavg()[0]

    def row(label: str, values: list[float], target: str) -> str:
        return f"| {label} | {statistics.median(values):.0f} | {max(values):.0f} | {target} |"

    lines = [
        "## Explorer first load (benchmarks/explorer_bench.py)",
        "",
        f"Chromium (headless, Debian), 1280x800, a fresh context (empty cache) per run, {args.runs} runs; "
        f"{args.assets} assets with a thumbnail each; load average {load:.1f} at the end.",
        "",
        "| page (navigation start ->) | median ms | max ms | target |",
        "| --- | --- | --- | --- |",
        row(f"library: first {PAGE_SIZE} cards rendered", times["grid"], "<= 1000"),
        row(f"library: their {PAGE_SIZE} thumbnails loaded", times["thumbs"], ""),
        row("baseline: GraphiQL editor shown", times["graphiql"], ""),
        row(f"for scale: the library's query alone ({PAGE_SIZE} assets with thumbnails)", times["query"], ""),
        "",
        f"JavaScript, gzipped: {first_js / 1000:.1f} kB fetched by the first load, "
        f"{all_js / 1000:.1f} kB in all (with the relation graph's Cytoscape.js chunk, loaded on that "
        "page only); target <= 400 kB.",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
