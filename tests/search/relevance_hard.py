"""The harder labelled relevance set: the small set's corpus (tests/search/relevance.py) plus two
more videos and twenty-three notes (seven carry near-identical codes in other contexts), with
codes and numbers where vectors fail, paraphrases where BM25 fails, mixed queries, and queries
with NO relevant document, run through the real pipeline once.

It serves two purposes, on separate query splits (``Query.split``: every other query of each
group, so both halves hold every kind):

- ``fit``: ``scripts/fit_relevance_calibration.py`` fits the relevance calibration
  (search/calibration.json) on the candidates these queries return;
- ``eval``: ``benchmarks/relevance_eval.py --hard`` reports nDCG@10, recall@10, the ASSET-scope
  "right asset first" rate and the no-match rate above the default cutoff on these (and, for
  the ranking metrics that do not depend on the calibration, on all queries).

Relevance comes from how each fixture was BUILT, never from what search returned.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from app.api.http import create_graphql_app
from app.api.search.queries import GROUPS
from app.core.container import Services
from app.core.db import Base, create_engine
from app.core.settings import Settings
from app.entrypoints.bootstrap import build_services
from search.calibration import CALIBRATION_FILE, query_terms, shipped_calibration
from search.calibration_fit import LabelledRun, fit
from search.query import tokenize
from tests.fixtures.keys import admin_headers
from tests.fixtures.media import make_video
from tests.search import relevance as small
from tests.search.relevance import Hit, Target, VideoSpec, matches, score

VIDEOS = (
    *small.VIDEOS,
    VideoSpec(
        "clip-d",
        ("GATE B17 BOARDING", None),
        "The ferry to the island departs at noon.",
        1,
        ((150, 40, 150), (20, 120, 120)),
    ),
    VideoSpec(
        "clip-e",
        (None, "SERIAL KX-7731"),
        "Replace the filter cartridge every six months.",
        0,
        ((220, 220, 60), (60, 30, 10)),
    ),
)
NOTES = {
    **small.NOTES,
    "note-5": "Error code E4417 means the pump motor overheated; let it cool for an hour before restarting.",
    "note-6": "Invoice INV-20931 for the conference venue is due on the first of March.",
    "note-7": "The vaccination clinic opens on Tuesdays and Thursdays for children under five.",
    "note-8": "Firmware version 3.8.2 fixes the bluetooth pairing bug on the headset.",
    "note-9": "Our hiking route climbs to the glacier and returns through the pine forest.",
    "note-10": "The violinist rehearsed the concerto with the orchestra for the winter festival.",
    "note-11": "Flight LH 4562 to Lisbon is delayed by two hours because of fog.",
    "note-12": "Water the tomato seedlings every morning and keep them in full sun.",
    "note-13": "The museum exhibition shows ancient pottery from the Bronze Age.",
    "note-14": "Password resets are handled by ticket queue HR-88; expect a reply within a day.",
    "note-15": "The marathon runners crossed the finish line in heavy rain.",
    "note-16": "Solar panels on the warehouse roof now cover half of its electricity use.",
    "note-17": "Chapter seven of the novel follows the detective through foggy London streets.",
    "note-18": "The dentist recommends flossing daily and a checkup twice a year.",
    "note-19": "A recipe for lentil soup with cumin, carrots and lemon.",
    "note-20": "The football club signed a new goalkeeper before the season opener.",
    # Near-identical codes in other contexts: what an embedding cannot tell apart and BM25 can.
    "note-21": "Error code E4471 means the water tank is empty; refill it and restart the machine.",
    "note-22": "Invoice INV-20913 for the catering company is due at the end of April.",
    "note-23": "Flight LH 4526 to Lisbon boards at gate twelve.",
    "note-24": "Ticket queue HR-86 handles laptop repairs within a week.",
    "note-25": "Firmware version 3.2.8 adds a battery saver mode to the headset.",
    "note-26": "Serial KX-7713 is printed on the back of the router.",
    "note-27": "Gate B71 is closed for renovation until June.",
}


@dataclass(frozen=True, slots=True)
class Query:
    """One labelled query; ``relevant`` is empty for a no-match query."""

    group: str
    text: str
    relevant: tuple[Target, ...]
    split: str = "fit"


_GROUPS: dict[str, list[tuple[str, tuple[Target, ...]]]] = {
    "code": [
        ("E4417", (("note-5", None),)),
        ("INV-20931", (("note-6", None),)),
        ("firmware 3.8.2", (("note-8", None),)),
        ("LH 4562", (("note-11", None),)),
        ("HR-88", (("note-14", None),)),
        ("gate B17", (("clip-d", 0),)),
        ("KX-7731", (("clip-e", 1),)),
        ("fish market", (("clip-a", 0),)),
        ("oven preheated", (("clip-b", 1),)),
        ("platform closed", (("clip-c", 0),)),
    ],
    "keyword": [
        ("lighthouse keeper", (("clip-a", 1),)),
        ("eggs sugar butter", (("clip-b", 0),)),
        ("night train to the mountains", (("clip-c", 1),)),
        ("interest rates and inflation", (("note-2", None),)),
        ("knead the dough", (("note-1", None),)),
        ("lentil soup recipe", (("note-19", None),)),
        ("goalkeeper signing", (("note-20", None),)),
        ("tomato seedlings", (("note-12", None),)),
    ],
    "paraphrase": [
        ("a man who tends a beacon tower feeding birds", (("clip-a", 1),)),
        ("railway journey to the hills after dark", (("clip-c", 1),)),
        ("mixing cake batter", (("clip-b", 0),)),
        ("monetary policy decision", (("note-2", None),)),
        ("homemade bread recipe", (("note-1", None),)),
        ("the machine got too hot", (("note-5", None),)),
        ("paying the bill for the event hall", (("note-6", None),)),
        ("immunisation for young kids", (("note-7", None),)),
        ("wireless earphones connection problem", (("note-8", None),)),
        ("mountain trek past an ice field", (("note-9", None),)),
        ("classical music practice", (("note-10", None),)),
        ("plane departure postponed", (("note-11", None),)),
        ("growing vegetables in the garden", (("note-12", None),)),
        ("old ceramics on display", (("note-13", None),)),
        ("long-distance race in bad weather", (("note-15", None),)),
        ("renewable energy for a building", (("note-16", None),)),
        ("a mystery story in England", (("note-17", None),)),
        ("looking after your teeth", (("note-18", None),)),
        ("a ship sailing at midday", (("clip-d", 1),)),
    ],
    "mixed": [
        ("change the water filter", (("clip-e", 0),)),
        ("bronze age pottery exhibition", (("note-13", None),)),
        ("orchestra concerto rehearsal", (("note-10", None),)),
        ("a kitten napping", (("note-3", None), ("photo-1", None))),
        ("spacecraft going into orbit", (("note-4", None), ("photo-3", None))),
        ("a cat", (("photo-1", None), ("note-3", None))),
        ("a cup of coffee", (("photo-2", None),)),
        ("rocket", (("photo-3", None), ("note-4", None))),
        ("motorbike", (("photo-4", None),)),
        ("astronaut in a space suit", (("photo-5", None),)),
    ],
    "none": [
        ("volcanic eruption in iceland", ()),
        ("filing a tax return", ()),
        ("knitting a wool scarf", ()),
        ("quantum computing with qubits", ()),
        ("chess opening strategy", ()),
        ("a wedding dress fitting", ()),
        ("invoice ZK-0042", ()),
        ("error code E9981", ()),
        ("submarine under the arctic ice", ()),
        ("horse racing betting odds", ()),
        ("how to tie a bowtie", ()),
        ("elephants at a watering hole", ()),
        ("skateboard tricks at the park", ()),
        ("a jazz saxophone solo", ()),
        ("snowboarding competition", ()),
        ("translate a german contract", ()),
        ("yoga breathing exercises", ()),
        ("unclog a kitchen sink", ()),
        ("the history of the roman senate", ()),
        ("a thunderstorm over the desert", ()),
        ("ticket QZ-5510", ()),
        ("carpet cleaning service", ()),
    ],
}
QUERIES = tuple(
    Query(group, text, relevant, "fit" if index % 2 == 0 else "eval")
    for group, items in _GROUPS.items()
    for index, (text, relevant) in enumerate(items)
)
MODES = small.MODES
K = small.K
# Enough for every candidate of this corpus (about 40 moments): the fit needs whole lists.
FIT_PAGE = 100

SEARCH = """
query HardSearch($input: SearchInput!, $first: Int!) {
  search(query: $input, first: $first) {
    edges { node { kind score relevance startSeconds endSeconds
                   ranks { retriever rank score } asset { id } } }
  }
}
"""


def make_corpus(media: Path) -> dict[str, Path]:
    """The small set's files plus this set's videos and notes; asset name -> path."""
    files = small.make_corpus(media)
    for spec in VIDEOS[len(small.VIDEOS) :]:
        clip = make_video(
            media / f"{spec.name}.mp4",
            shot_seconds=small.SHOT_S,
            shot_colours=spec.colours,
            fps=10,
            speech=small._speech(media, spec),
            captions=spec.captions,
        )
        files[spec.name] = clip.path
    for name, text in NOTES.items():
        if name not in files:
            path = media / f"{name}.txt"
            path.write_text(text + "\n", encoding="utf-8")
            files[name] = path
    return files


@dataclass(slots=True)
class Corpus:
    """The processed corpus: services, a GraphQL client and asset id -> fixture name."""

    services: Services
    api: httpx.AsyncClient
    names: dict[str, str]
    pipeline_s: float

    async def search(
        self,
        text: str,
        mode: str,
        *,
        scope: str = "MOMENT",
        first: int = K,
        min_relevance: float | None = 0.0,
    ) -> list[dict[str, Any]]:
        """Hits (nodes) of one search; ``min_relevance=None`` leaves the server's default cutoff."""
        variables: dict[str, Any] = {"input": {"text": text, "mode": mode, "scope": scope}, "first": first}
        if min_relevance is not None:
            variables["input"]["minRelevance"] = min_relevance
        response = await self.api.post("/graphql", json={"query": SEARCH, "variables": variables})
        body: dict[str, Any] = response.json()
        if response.status_code != 200 or "errors" in body:
            raise RuntimeError(f"search {text!r} ({mode}) failed: {body}")
        return [edge["node"] for edge in body["data"]["search"]["edges"]]

    def hit(self, node: dict[str, Any]) -> Hit:
        """The fixture view of one node."""
        return Hit(
            self.names.get(small._asset_uuid(node["asset"]["id"]), "?"),
            node["startSeconds"],
            node["endSeconds"],
        )


@asynccontextmanager
async def processed_corpus(
    workdir: Path | None = None,
    *,
    timeout_s: float = 900.0,
    make: Callable[[Path], dict[str, Path]] | None = None,
) -> AsyncIterator[Corpus]:
    """Build the corpus (this set's, or ``make``'s: ``small.make_corpus`` for the small set), run
    it through the real pipeline, and yield a client for searching it."""
    with tempfile.TemporaryDirectory(prefix="mediakg-relevance-hard-") as tmp:
        root = workdir or Path(tmp)
        media, data = root / "media", root / "data"
        media.mkdir(parents=True, exist_ok=True)
        data.mkdir(parents=True, exist_ok=True)
        url = f"sqlite+aiosqlite:///{root / 'relevance.db'}"
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await engine.dispose()
        # Thousands of searches in a few minutes: no per-key rate limit for this client.
        settings = Settings(
            data_dir=data,
            database_url=url,
            allowed_roots=[media],
            log_json=False,
            rate_limit_requests_per_minute=0,
        )
        # A kept workdir that was processed before is searched again as it is (asset names saved).
        processed = root / "names.json"
        files = {} if processed.exists() else await asyncio.to_thread(make or make_corpus, media)
        services = build_services(settings)
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            if processed.exists():
                names = json.loads(processed.read_text(encoding="utf-8"))
            else:
                names = await small._run_pipeline(services, files, timeout_s)
                processed.write_text(json.dumps(names), encoding="utf-8")
            pipeline_s = loop.time() - started
            transport = httpx.ASGITransport(app=create_graphql_app(services))
            headers = await admin_headers(services, name=f"relevance-{uuid.uuid4().hex[:8]}")
            async with httpx.AsyncClient(
                transport=transport, base_url="http://localhost", headers=headers
            ) as api:
                corpus = Corpus(services=services, api=api, names=names, pipeline_s=pipeline_s)
                await corpus.search("warm up", "HYBRID")
                yield corpus
        finally:
            await services.aclose()


def relevant_doc(corpus: Corpus, node: dict[str, Any], query: Query) -> bool:
    """Whether a returned node answers ``query``."""
    hit = corpus.hit(node)
    return any(matches(hit, target) for target in query.relevant)


@dataclass(frozen=True, slots=True)
class ModeScores:
    """Ranking and cutoff results of one mode over some queries."""

    ndcg: float
    recall: float
    asset_first: float | None
    no_match_empty: float | None
    kept_answer: float | None


async def evaluate_mode(
    corpus: Corpus, mode: str, queries: Sequence[Query], *, asset_scope: bool = True
) -> ModeScores:
    """nDCG@10 and recall@10 (no cutoff), the ASSET-scope right-asset-first rate, the share of
    no-match queries whose page is empty at the default cutoff, and the share of answerable
    queries whose first relevant hit survives that cutoff."""
    ndcgs, recalls, firsts, empties, kept = [], [], [], [], []
    for query in queries:
        if query.relevant:
            nodes = await corpus.search(query.text, mode)
            ndcg, recall = score([corpus.hit(n) for n in nodes], query.relevant)
            ndcgs.append(ndcg)
            recalls.append(recall)
            if asset_scope:
                assets = await corpus.search(query.text, mode, scope="ASSET", first=1)
                wanted = {asset for asset, _ in query.relevant}
                firsts.append(bool(assets) and corpus.hit(assets[0]).asset in wanted)
            cut = await corpus.search(query.text, mode, min_relevance=None)
            kept.append(any(relevant_doc(corpus, n, query) for n in cut))
        else:
            cut = await corpus.search(query.text, mode, min_relevance=None)
            empties.append(not cut)

    def mean(values: list[bool] | list[float]) -> float | None:
        return statistics.fmean(values) if values else None

    return ModeScores(
        ndcg=statistics.fmean(ndcgs),
        recall=statistics.fmean(recalls),
        asset_first=mean(firsts),
        no_match_empty=mean(empties),
        kept_answer=mean(kept),
    )


def with_setting(corpus: Corpus, **changes: Any) -> None:
    """Change the running services' settings (fusion, cutoff) between evaluation passes."""
    for name, value in changes.items():
        setattr(corpus.services.settings, name, value)


# --- fitting the calibration (scripts/fit_relevance_calibration.py) ---------------------------


def _retriever(name: str) -> str:
    """GraphQL's VECTOR_TEXT -> the library's vector:text."""
    return name.lower().replace("_", ":", 1)


def _doc(node: dict[str, Any]) -> str:
    """A candidate's id in the fit's lists: its asset and time range."""
    return f"{node['asset']['id']}@{node['startSeconds']}-{node['endSeconds']}"


def _retriever_lists(nodes: Sequence[dict[str, Any]], terms: int) -> dict[str, list[tuple[str, float]]]:
    """Each retriever's ranked (candidate, raw score) list, rebuilt from the hits' ranks."""
    ranked: dict[str, list[tuple[int, str, float]]] = {}
    for node in nodes:
        for rank in node["ranks"]:
            ranked.setdefault(_retriever(rank["retriever"]), []).append(
                (rank["rank"], _doc(node), rank["score"])
            )
    lists = {name: [(doc, s) for _, doc, s in sorted(items)] for name, items in ranked.items()}
    if terms:
        # BM25 ran and matched nothing: the server then gives every candidate BM25's floor,
        # so the fit must see that too (a list absent from the hits' ranks is an empty one).
        lists.setdefault("text", [])
    return lists


async def labelled_runs(corpus: Corpus, split: str) -> list[LabelledRun]:
    """Every ``split`` query's retriever lists (HYBRID, no cutoff) and relevant candidates."""
    runs = []
    for query in QUERIES:
        if query.split != split:
            continue
        nodes = await corpus.search(query.text, "HYBRID", first=FIT_PAGE)
        terms = query_terms(query.text, tokenize(query.text))
        runs.append(
            LabelledRun(
                text=query.text,
                terms=terms,
                ranked=_retriever_lists(nodes, terms),
                relevant=frozenset(_doc(node) for node in nodes if relevant_doc(corpus, node, query)),
            )
        )
    return runs


async def dump_runs(corpus: Corpus, path: Path, queries: Sequence[Query | small.Query] = QUERIES) -> None:
    """Every query's HYBRID retriever lists in both scopes, with the target each candidate answers
    (for trying fusions offline: benchmarks/relevance_fusion_variants.py). The small set's
    queries (``small.QUERIES``) have no split: theirs is ``small``."""
    out = []
    for query in queries:
        split = query.split if isinstance(query, Query) else "small"
        entry: dict[str, Any] = {"text": query.text, "group": query.group, "split": split}
        entry["terms"] = query_terms(query.text, tokenize(query.text))
        entry["targets"] = len(query.relevant)
        for scope in ("MOMENT", "ASSET"):
            nodes = await corpus.search(query.text, "HYBRID", scope=scope, first=FIT_PAGE)
            answers: dict[str, int] = {}
            for node in nodes:
                hit = corpus.hit(node)
                for index, target in enumerate(query.relevant):
                    wanted = target if scope == "MOMENT" else (target[0], None)
                    if matches(hit, wanted):
                        answers.setdefault(_doc(node), index)
            entry[scope] = {"ranked": _retriever_lists(nodes, entry["terms"]), "answers": answers}
        out.append(entry)
    await asyncio.to_thread(path.write_text, json.dumps(out), encoding="utf-8")


async def fit_and_write(corpus: Corpus, backend: str) -> dict[str, Any]:
    """Fit on the ``fit`` split and write it into search/calibration.json for ``backend``."""
    runs = await labelled_runs(corpus, "fit")
    # The groups combine at their best calibrated relevance (no fitted fusion): a logit-linear
    # fusion fitted on these candidates gave BM25 a weight of about 0 and a lower HYBRID nDCG@10
    # on the fit split (0.928 vs 0.969, docs/search.md), being a pointwise fit over candidates
    # that are mostly unrelated, not a ranking objective.
    calibration = dataclasses.replace(fit(runs, GROUPS, prior=shipped_calibration(backend)), fusion={})
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    data["about"] = (
        "Relevance calibration (search/calibration.py), fitted by scripts/fit_relevance_calibration.py "
        "on the fit split of tests/search/relevance_hard.py; do not edit by hand."
    )
    entry = calibration.to_json()
    entry["fitted"] = {
        "on": datetime.now(UTC).date().isoformat(),
        "queries": len(runs),
        "no_match_queries": sum(1 for run in runs if not run.relevant),
        "split": "fit",
    }
    data["backends"][backend] = entry
    CALIBRATION_FILE.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    shipped_calibration.cache_clear()
    return entry
