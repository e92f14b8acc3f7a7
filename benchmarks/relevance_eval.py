"""Relevance of TEXT, SEMANTIC and HYBRID search: nDCG@10 and recall@10 on a labelled set built
from the generated fixtures, run through the real pipeline and the GraphQL `search` field.

    .venv/bin/python benchmarks/relevance_eval.py [--write-docs] [--workdir DIR]
    .venv/bin/python benchmarks/relevance_eval.py --hard [--refit] [--write-docs]

``--hard`` runs the harder set (tests/search/relevance_hard.py, 69 queries, 22 of them with no
relevant document) instead: nDCG@10 / recall@10 per mode and fusion, the ASSET-scope "right
asset first" rate, the no-match rate at the default relevance cutoff and the answers that
cutoff keeps, on the ``fit`` and ``eval`` splits and on all queries (the calibration is fitted
on the ``fit`` split:
``--refit`` refits it first in the same run, as scripts/fit_relevance_calibration.py does).

The set and its labels live in tests/search/relevance.py (the test tests/search/test_relevance.py
runs the same evaluation and asserts floors). ``--write-docs`` replaces the measured block of
docs/search.md's "Relevance" section with this run's table. Needs espeak-ng and the dev
dependencies (scikit-image's sample photos); takes about half a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
HARD_BEGIN = "<!-- relevance-hard:begin (benchmarks/relevance_eval.py --hard --write-docs) -->"
HARD_END = "<!-- relevance-hard:end -->"


def _core() -> ModuleType:
    # The labelled set is built from the test fixtures (tests/ is not an installed package).
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import tests.search.relevance as core

    return core


def _load() -> str:
    """The 1-minute load average now (2 cores shared with other work: latencies depend on it)."""
    return f"{os.getloadavg()[0]:.1f}"


def write_docs(block: str, begin: str = BEGIN, end_marker: str = END) -> None:
    """Replace the text between the relevance markers of docs/search.md."""
    text = DOCS.read_text(encoding="utf-8")
    start, end = text.find(begin), text.find(end_marker)
    if start < 0 or end < start:
        raise SystemExit(f"{DOCS} has no relevance markers ({begin} ... {end_marker})")
    DOCS.write_text(text[: start + len(begin)] + "\n" + block + "\n" + text[end:], encoding="utf-8")


async def _hard(workdir: Path | None, *, refit: bool) -> str:
    core = _core()
    import tests.search.relevance_hard as hard

    started = time.perf_counter()
    load_before = _load()
    lines = []
    async with hard.processed_corpus(workdir) as corpus:
        if refit:
            await hard.fit_and_write(corpus, "embedded")
        cutoff = corpus.services.settings.search_min_relevance
        # Both halves: a change fitted or chosen on ``fit`` has to hold on ``eval`` too.
        splits = {
            "fit": [q for q in hard.QUERIES if q.split == "fit"],
            "eval": [q for q in hard.QUERIES if q.split == "eval"],
            "all": list(hard.QUERIES),
        }
        rows = []
        for fusion in ("rrf", "relevance"):
            hard.with_setting(corpus, search_fusion=fusion)
            for split, queries in splits.items():
                for mode in hard.MODES:
                    s = await hard.evaluate_mode(corpus, mode, queries, asset_scope=mode != "SEMANTIC")
                    first = "-" if s.asset_first is None else f"{s.asset_first:.2f}"
                    rows.append(
                        f"| {fusion} | {split} | {mode} | {s.ndcg:.3f} | {s.recall:.3f} | {first} | "
                        f"{s.no_match_empty:.2f} | {s.kept_answer:.2f} |"
                    )
        total_s = time.perf_counter() - started
    today = datetime.now(UTC).date().isoformat()
    positives = sum(1 for q in hard.QUERIES if q.relevant)
    eval_n = len(splits["eval"])
    lines += [
        f"Measured on {today}: {len(hard.QUERIES)} queries ({positives} answerable, "
        f"{len(hard.QUERIES) - positives} with no relevant document; eval split {eval_n}), "
        f"{len(hard.VIDEOS) + len(core.PHOTOS) + len(hard.NOTES)} assets, pipeline "
        f"{corpus.pipeline_s:.1f} s, whole run {total_s:.1f} s on 2 cores, load average {load_before} "
        f"at the start and {_load()} at the end; default cutoff "
        f"minRelevance {cutoff}:",
        "",
        "| fusion | queries | mode | nDCG@10 | recall@10 | ASSET right first | no-match empty at cutoff "
        "| answerable keeping an answer at cutoff |",
        "|---|---|---|---:|---:|---:|---:|---:|",
        *rows,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write-docs", action="store_true", help="update docs/search.md with this run")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the corpus and database here")
    parser.add_argument(
        "--hard", action="store_true", help="run the harder set (tests/search/relevance_hard.py)"
    )
    parser.add_argument("--refit", action="store_true", help="with --hard: refit the calibration first")
    args = parser.parse_args(argv)
    if args.hard:
        block = asyncio.run(_hard(args.workdir, refit=args.refit))
        print(block)  # noqa: T201
        if args.write_docs:
            write_docs(block, HARD_BEGIN, HARD_END)
        return 0
    core = _core()
    started = time.perf_counter()
    load_before = _load()
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
            f"{report.pipeline_s:.1f} s, whole run {total_s:.1f} s on 2 cores, load average "
            f"{load_before} at the start and {_load()} at the end):",
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
