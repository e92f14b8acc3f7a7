"""Fit the relevance calibration (search/calibration.json) on the labelled relevance set.

    PYTHONPATH=. .venv/bin/python scripts/fit_relevance_calibration.py [--workdir DIR]

Builds the harder labelled set (tests/search/relevance_hard.py), runs it through the real
pipeline, searches every query of its ``fit`` split in HYBRID mode (all retrievers, every
candidate: about 40 moments) and fits each retriever's curve and the group fusion
(search/calibration_fit.py). The ``eval`` split is left for benchmarks/relevance_eval.py --hard.
With MEDIAKG_SEARCH_URL pointing at Elasticsearch the same run fits that backend's BM25 scale
and writes it under ``backends.elasticsearch``. Takes about two minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.search import relevance as small  # noqa: E402  (after the path set-up above)
from tests.search import relevance_hard as hard  # noqa: E402


async def _main(workdir: Path | None, dump: Path | None, small_set: bool) -> None:
    if small_set:
        # The small set's corpus and queries, for the fusion replay's third column.
        async with hard.processed_corpus(workdir, make=small.make_corpus) as corpus:
            await hard.dump_runs(corpus, dump or Path("small-lists.json"), small.QUERIES)
        return
    async with hard.processed_corpus(workdir) as corpus:
        if dump is not None:
            await hard.dump_runs(corpus, dump)
            return
        url = corpus.services.settings.search_url
        backend = "embedded" if url.startswith("embedded") else "elasticsearch"
        entry = await hard.fit_and_write(corpus, backend)
    print(json.dumps(entry, indent=2))  # noqa: T201  (the script's output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep the corpus and database here")
    parser.add_argument("--dump", type=Path, default=None, help="only write every query's lists to this file")
    parser.add_argument(
        "--small",
        action="store_true",
        help="with --dump: the small set's corpus and queries (tests/search/relevance.py) instead",
    )
    args = parser.parse_args(argv)
    if args.small and args.dump is None:
        parser.error("--small needs --dump")
    asyncio.run(_main(args.workdir, args.dump, args.small))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
