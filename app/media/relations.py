"""Relations with reasons: why two assets belong together, and how much.

Each reason comes from one ``ReasonSource``; a source scores, for a batch of assets, every
other asset it relates them to and says why (the evidence). The sources are independent and
pluggable (``REASON_SOURCES``; ``register_reason_source`` adds one):

- SAME_PERSON: a person of the people tables (app/people, not hidden) appears in both; each
  shared person counts ``PERSON_SCORE`` (noisy-or); evidence: the people;
- NEAR_DUPLICATE: the similarity stage's asset-to-asset near_duplicate edge (its score);
- SIMILAR_SCENE: scene-to-scene visual or semantic edges between the two assets (the best
  score; evidence: the best scene pairs), and text documents' asset-level semantic edges;
- SHARED_TEXT: on-screen text (OCR) both show, as normalised words and two-word phrases that
  are distinctive in the tenant: each term weighs its inverse document frequency over the
  tenant's assets with on-screen text, so a code or a name seen in two assets counts and a
  term most assets show weighs nothing; stop words and short words never count. The score is the
  cosine of the two assets' IDF-weighted term sets; the evidence the shared terms, rarest
  first;
- SHARED_LABEL: the same over recognised labels at least ``MIN_LABEL_CONFIDENCE`` sure.

The combined score is a noisy-or of the weighted reasons, 1 - prod(1 - w * s): one strong
reason relates two assets; several weak ones add up without exceeding 1. Marked duplicates
and deleted assets are never related (one statement over the candidates).

Cost: the text and label sources read the tenant's distinct (asset, text) pairs of those
detection kinds once per session (one statement each; relations are read in read-only
sessions) and weigh them in Python: fine to tens of thousands of assets; beyond that the
document frequencies belong in the search index.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.assets import repository as assets_repo
from app.core.enums import DetectionKind, OwnerType, RelationReason, SimilarityKind
from app.media import repository
from app.people import repository as people_repo

# How much each reason counts towards the combined score (a near-duplicate is the strongest
# statement; a shared label the weakest).
REASON_WEIGHTS: dict[RelationReason, float] = {
    RelationReason.NEAR_DUPLICATE: 1.0,
    RelationReason.SAME_PERSON: 0.9,
    RelationReason.SIMILAR_SCENE: 0.8,
    RelationReason.SHARED_TEXT: 0.7,
    RelationReason.SHARED_LABEL: 0.5,
}
# Below these a shared-text or shared-label cosine is noise, not a reason.
MIN_TERM_SCORE = 0.1
MIN_LABEL_CONFIDENCE = 0.25
# One person both assets show: a strong reason (the face threshold already separates people).
PERSON_SCORE = 0.8
# Evidence kept per reason: the best scene pairs, the rarest terms.
MAX_EVIDENCE = 5
# Related assets computed per asset (a page of `related` is cut from these).
MAX_RELATED = 200

STOP_WORDS = frozenset(
    """a about after all also an and any are as at be been but by can could did do does for from
    had has have he her here his how i if in into is it its just may me more most my no not now
    of on one or our out over she so some such than that the their them then there these they
    this those to too two up us very was we were what when where which who why will with would
    you your""".split()
)
_WORD = re.compile(r"[\w]+(?:[-.:/][\w]+)*")


@dataclass(frozen=True, slots=True)
class ScenePair:
    """Two scenes, one of each asset, that look or mean alike."""

    scene_id: uuid.UUID
    other_scene_id: uuid.UUID
    kind: SimilarityKind
    score: float


@dataclass(frozen=True, slots=True)
class ReasonScore:
    """One reason two assets are related, its score (0 to 1) and the evidence."""

    reason: RelationReason
    score: float
    scene_pairs: tuple[ScenePair, ...] = ()
    terms: tuple[str, ...] = ()
    edge_ids: tuple[uuid.UUID, ...] = ()
    person_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class Relation:
    """Why and how much ``other_id`` is related to ``asset_id``."""

    asset_id: uuid.UUID
    other_id: uuid.UUID
    reasons: tuple[ReasonScore, ...]
    score: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "score", combined_score(self.reasons))


def combined_score(reasons: Iterable[ReasonScore]) -> float:
    """Noisy-or of the weighted reason scores."""
    remaining = 1.0
    for r in reasons:
        remaining *= 1.0 - REASON_WEIGHTS[r.reason] * max(0.0, min(1.0, r.score))
    return round(1.0 - remaining, 6)


Scores = dict[uuid.UUID, dict[uuid.UUID, ReasonScore]]


class ReasonSource(Protocol):
    """Scores one reason for a batch of assets: asset id -> related asset id -> score."""

    reason: RelationReason

    async def scores(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, asset_ids: Sequence[uuid.UUID]
    ) -> Scores:
        """The related assets of each of ``asset_ids`` for this reason."""
        ...


# --- edges -----------------------------------------------------------------------------------


class NearDuplicateSource:
    """NEAR_DUPLICATE from the similarity stage's asset-to-asset edges."""

    reason = RelationReason.NEAR_DUPLICATE

    async def scores(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, asset_ids: Sequence[uuid.UUID]
    ) -> Scores:
        edges = await repository.edges_touching(
            session, tenant_id=tenant_id, asset_ids=asset_ids, kinds=[SimilarityKind.NEAR_DUPLICATE]
        )
        wanted, out = set(asset_ids), _empty(asset_ids)
        for edge in edges:  # best first: the first edge of a pair is its newest best score
            for mine, other in _ends(edge.source_asset_id, edge.target_asset_id, wanted):
                if other not in out[mine]:
                    out[mine][other] = ReasonScore(self.reason, edge.score, edge_ids=(edge.id,))
        return out


class SimilarSceneSource:
    """SIMILAR_SCENE from scene-to-scene visual and semantic edges (and documents' semantic
    edges): the best score between the two assets, the best pairs as evidence."""

    reason = RelationReason.SIMILAR_SCENE

    async def scores(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, asset_ids: Sequence[uuid.UUID]
    ) -> Scores:
        edges = await repository.edges_touching(
            session,
            tenant_id=tenant_id,
            asset_ids=asset_ids,
            kinds=[SimilarityKind.VISUAL, SimilarityKind.SEMANTIC],
        )
        wanted = set(asset_ids)
        pairs: dict[tuple[uuid.UUID, uuid.UUID], list[ScenePair]] = defaultdict(list)
        documents: dict[tuple[uuid.UUID, uuid.UUID], list[tuple[float, uuid.UUID]]] = defaultdict(list)
        for edge in edges:
            for mine, other in _ends(edge.source_asset_id, edge.target_asset_id, wanted):
                if edge.source_type == OwnerType.ASSET:
                    documents[(mine, other)].append((edge.score, edge.id))
                    continue
                forward = edge.source_asset_id == mine
                mine_scene, other_scene = (
                    (edge.source_id, edge.target_id) if forward else (edge.target_id, edge.source_id)
                )
                pairs[(mine, other)].append(ScenePair(mine_scene, other_scene, edge.kind, edge.score))
        out = _empty(asset_ids)
        for (mine, other), found in pairs.items():
            best = sorted(found, key=lambda p: (-p.score, str(p.scene_id), str(p.other_scene_id)))
            out[mine][other] = ReasonScore(self.reason, best[0].score, scene_pairs=tuple(best[:MAX_EVIDENCE]))
        for (mine, other), scored in documents.items():
            score, edge_id = max(scored)
            if other not in out[mine] or out[mine][other].score < score:
                out[mine][other] = ReasonScore(self.reason, score, edge_ids=(edge_id,))
        return out


# --- shared terms ----------------------------------------------------------------------------


def terms_of(text: str) -> set[str]:
    """The distinctive-term candidates of an on-screen text: normalised words (codes keep their
    inner hyphens, dots, colons and slashes) of at least three characters or with a digit, not
    stop words, and the two-word phrases of consecutive kept words."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    words = [
        w
        for w in _WORD.findall(folded)
        if w not in STOP_WORDS and (len(w) >= 3 or any(c.isdigit() for c in w))
    ]
    return set(words) | {f"{a} {b}" for a, b in itertools.pairwise(words)}


def weighted_overlaps(
    documents: dict[uuid.UUID, set[str]], asset_ids: Sequence[uuid.UUID], reason: RelationReason
) -> Scores:
    """For each of ``asset_ids``, the other documents sharing a term, scored by the cosine of
    IDF-weighted term sets (idf = ln((N + 1) / df) over the N documents; 0 for a term more than
    half of them carry), at least ``MIN_TERM_SCORE``; evidence: the shared terms, rarest first."""
    count = len(documents)
    frequency: dict[str, int] = defaultdict(int)
    postings: dict[str, list[uuid.UUID]] = defaultdict(list)
    for asset_id, terms in documents.items():
        for term in terms:
            frequency[term] += 1
            postings[term].append(asset_id)
    # A term most documents carry says nothing about a pair (a channel logo, "breaking news"):
    # above half of them (and more than two, so a tenant of two can still share one) it weighs 0.
    too_common = max(2.0, count / 2)
    idf = {term: 0.0 if df > too_common else math.log((count + 1) / df) for term, df in frequency.items()}
    norms = {a: math.sqrt(sum(idf[t] ** 2 for t in terms)) for a, terms in documents.items()}
    out = _empty(asset_ids)
    for mine in asset_ids:
        terms = documents.get(mine, set())
        shared: dict[uuid.UUID, list[str]] = defaultdict(list)
        for term in terms:
            if idf[term] <= 0:
                continue
            for other in postings[term]:
                if other != mine:
                    shared[other].append(term)
        for other, common in shared.items():
            denominator = norms[mine] * norms[other]
            if denominator <= 0:
                continue
            score = sum(idf[t] ** 2 for t in common) / denominator
            if score < MIN_TERM_SCORE:
                continue
            rarest = sorted(common, key=lambda t: (-idf[t], t))
            out[mine][other] = ReasonScore(
                reason, round(min(1.0, score), 6), terms=tuple(rarest[:MAX_EVIDENCE])
            )
    return out


class SharedTextSource:
    """SHARED_TEXT: distinctive on-screen text both assets show."""

    reason = RelationReason.SHARED_TEXT

    async def scores(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, asset_ids: Sequence[uuid.UUID]
    ) -> Scores:
        documents = await _term_documents(session, tenant_id, DetectionKind.TEXT, 0.0, terms_of)
        return weighted_overlaps(documents, asset_ids, self.reason)


class SharedLabelSource:
    """SHARED_LABEL: recognised labels both assets carry, weighted by rarity."""

    reason = RelationReason.SHARED_LABEL

    async def scores(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, asset_ids: Sequence[uuid.UUID]
    ) -> Scores:
        documents = await _term_documents(
            session, tenant_id, DetectionKind.LABEL, MIN_LABEL_CONFIDENCE, _label_term
        )
        return weighted_overlaps(documents, asset_ids, self.reason)


def _label_term(label: str) -> set[str]:
    return {unicodedata.normalize("NFKC", label).casefold().strip()}


async def _term_documents(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    kind: DetectionKind,
    min_confidence: float,
    terms: Callable[[str], set[str]],
) -> dict[uuid.UUID, set[str]]:
    """Each asset's terms from the tenant's detections of ``kind``, read once per session: a
    relation graph asks ``related`` up to three times in one read session, and the corpus (the
    whole tenant's, for the document frequencies) is the same each time."""
    key = ("relations.term_documents", tenant_id, kind, min_confidence)
    cached: dict[uuid.UUID, set[str]] | None = session.info.get(key)
    if cached is None:
        rows = await repository.detection_terms(
            session, tenant_id=tenant_id, kind=kind, min_confidence=min_confidence
        )
        documents: dict[uuid.UUID, set[str]] = defaultdict(set)
        for asset_id, text in rows:
            documents[asset_id] |= terms(text)
        cached = session.info[key] = dict(documents)
    return cached


# --- people ----------------------------------------------------------------------------------


class SamePersonSource:
    """SAME_PERSON from the people tables (app/people): a person (not hidden) appears in both.
    Each shared person counts ``PERSON_SCORE``, several add up as a noisy-or; the evidence is
    the people, most tracks first."""

    reason = RelationReason.SAME_PERSON

    async def scores(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, asset_ids: Sequence[uuid.UUID]
    ) -> Scores:
        out = _empty(asset_ids)
        found = await people_repo.co_person_assets(
            session, tenant_id=tenant_id, asset_ids=asset_ids, limit=MAX_RELATED
        )
        for mine in asset_ids:
            people: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
            for shared in found.get(mine, []):
                people[shared.asset_id].append(shared.person_id)
            for other, person_ids in people.items():
                score = 1.0 - (1.0 - PERSON_SCORE) ** len(person_ids)
                out[mine][other] = ReasonScore(self.reason, round(score, 6), person_ids=tuple(person_ids))
        return out


REASON_SOURCES: list[ReasonSource] = [
    SamePersonSource(),
    NearDuplicateSource(),
    SimilarSceneSource(),
    SharedTextSource(),
    SharedLabelSource(),
]
"""The sources ``related`` asks, in the order their reasons are listed."""


def register_reason_source(source: ReasonSource) -> None:
    """Add ``source`` (once per reason) to the sources every relation query asks."""
    if all(s.reason != source.reason for s in REASON_SOURCES):
        REASON_SOURCES.append(source)


def _empty(asset_ids: Iterable[uuid.UUID]) -> Scores:
    return {asset_id: {} for asset_id in asset_ids}


def _ends(a: uuid.UUID, b: uuid.UUID, wanted: set[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(mine, other) for each end of the pair {a, b} that is one of ``wanted``."""
    return [(x, y) for x, y in ((a, b), (b, a)) if x in wanted]


async def related(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset_ids: Sequence[uuid.UUID],
    sources: Sequence[ReasonSource] | None = None,
) -> dict[uuid.UUID, list[Relation]]:
    """For each of ``asset_ids``, its related assets (at most ``MAX_RELATED``), best combined
    score first (ties: by id); only live assets not marked duplicates are related."""
    per_reason = [
        await s.scores(session, tenant_id=tenant_id, asset_ids=asset_ids) for s in sources or REASON_SOURCES
    ]
    merged: dict[uuid.UUID, dict[uuid.UUID, list[ReasonScore]]] = {a: defaultdict(list) for a in asset_ids}
    for scores in per_reason:
        for mine, scored in scores.items():
            for other, score in scored.items():
                merged[mine][other].append(score)
    candidates = {other for reasons_of in merged.values() for other in reasons_of}
    shown = await assets_repo.shown_asset_ids(session, tenant_id=tenant_id, ids=candidates)
    out: dict[uuid.UUID, list[Relation]] = {}
    for mine, reasons_of in merged.items():
        relations = [
            Relation(mine, other, tuple(reasons)) for other, reasons in reasons_of.items() if other in shown
        ]
        relations.sort(key=lambda r: (-r.score, str(r.other_id)))
        out[mine] = relations[:MAX_RELATED]
    return out


# --- the graph -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelationGraph:
    """Nodes (asset ids, the root first) and typed edges (relations) around one asset."""

    node_ids: tuple[uuid.UUID, ...]
    edges: tuple[Relation, ...]


async def relation_graph(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    root_id: uuid.UUID,
    depth: int,
    limit: int,
    sources: Sequence[ReasonSource] | None = None,
) -> RelationGraph:
    """The assets within ``depth`` relations of ``root_id`` (breadth first, strongest first), at
    most ``limit`` nodes and ``limit`` edges: the edges that reached each node first (so the
    graph is connected), then the strongest remaining edges between the nodes."""
    nodes = [root_id]
    tree: list[Relation] = []
    others: list[Relation] = []
    frontier = [root_id]
    for _ in range(depth):
        if not frontier or len(nodes) >= limit:
            break
        found = await related(session, tenant_id=tenant_id, asset_ids=frontier, sources=sources)
        reached: list[uuid.UUID] = []
        for asset_id in frontier:
            for relation in found.get(asset_id, []):
                if relation.other_id not in nodes and len(nodes) < limit:
                    nodes.append(relation.other_id)
                    reached.append(relation.other_id)
                    tree.append(relation)
                else:
                    others.append(relation)
        frontier = reached
    if frontier and depth > 0:
        # Edges among the last ring (and back to earlier nodes) were not computed from their side.
        found = await related(session, tenant_id=tenant_id, asset_ids=frontier, sources=sources)
        others += [r for rels in found.values() for r in rels]
    members = set(nodes)
    seen = {frozenset((r.asset_id, r.other_id)) for r in tree}
    extra: list[Relation] = []
    for relation in sorted(others, key=lambda r: (-r.score, str(r.asset_id), str(r.other_id))):
        pair = frozenset((relation.asset_id, relation.other_id))
        if relation.other_id in members and relation.asset_id in members and pair not in seen:
            seen.add(pair)
            extra.append(relation)
    return RelationGraph(node_ids=tuple(nodes), edges=tuple((tree + extra)[:limit]))
