"""Relevance of TEXT, SEMANTIC and HYBRID search: nDCG@10 and recall@10 on a labelled set built
from the generated fixtures, run through the real pipeline and the GraphQL `search` field.

    .venv/bin/python benchmarks/relevance_eval.py [--write-docs] [--workdir DIR]

The set and its labels live in tests/search/relevance.py (the test tests/search/test_relevance.py
runs the same evaluation and asserts floors). ``--write-docs`` replaces the measured block of
docs/search.md's "Relevance" section with this run's table. Needs espeak-ng and the dev
dependencies (scikit-image's sample photos); takes about half a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "search.md"
BEGIN = "<!-- relevance:begin (benchmarks/relevance_eval.py --write-docs) -->"
END = "<!-- relevance:end -->"


def _core() -> ModuleType:
    # The labelled set is built from the test fixtures (tests/ is not an installed package).
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import tests.search.relevance as core

    return core


def write_docs(block: str) -> None:
    """Replace the text between the relevance markers of docs/search.md."""
    text = DOCS.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{DOCS} has no relevance markers ({BEGIN} ... {END})")
    DOCS.write_text(text[: start + len(BEGIN)] + "\n" + block + "\n" + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write-docs", action="store_true", help="update docs/search.md with this run")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the corpus and database here")
    args = parser.parse_args(argv)
    core = _core()
    started = time.perf_counter()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        report = core.evaluate(args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="mediakg-relevance-") as tmp:
            report = core.evaluate(Path(tmp))
    total_s = time.perf_counter() - started
    today = datetime.now(UTC).date().isoformat()
    assets = len(core.VIDEOS) + len(core.PHOTOS) + len(core.NOTES)
    latencies = ", ".join(
        f"{mode} p50 {report.latency(mode)[0]:.0f} ms / max {report.latency(mode)[1]:.0f} ms"
        for mode in core.MODES
    )
    block = "\n".join(
        [
            f"Measured on {today} ({len(core.QUERIES)} queries, {assets} assets, pipeline "
            f"{report.pipeline_s:.1f} s, whole run {total_s:.1f} s on 2 cores):",
            "",
            report.table(),
            "",
            f"GraphQL latency per query (in-process HTTP, 10 hits): {latencies}.",
            "",
            "Queries with nothing relevant in the top 10: " + "; ".join(report.misses()) + ".",
        ]
    )
    print(block)  # noqa: T201  (the script's output is the table)
    if args.write_docs:
        write_docs(block)
        print(f"\nwrote {DOCS}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
