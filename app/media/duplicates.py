"""Near-duplicate clusters: the connected components of a tenant's near_duplicate edges.

The similarity stage stores ONE edge per pair of assets that are near-duplicates of each other
(same kind; images by visual cosine and pHash, videos length-aware, text by meaning). An editor
asks "which uploads are copies of which", and the answer is a group, not a pair: if A ~ B and
B ~ C, then A, B and C are one cluster even when A and C were never scored above the threshold
(a re-encode of a re-encode drifts). Clusters are therefore connected components, found with a
union-find over the edges in Python.

Cost: one statement reads every near_duplicate edge of the tenant between live assets; the
components are computed per request. Near-duplicate edges are sparse (an asset has a handful
at most), so this is cheap to tens of thousands of edges; beyond that the components should
be materialised by the similarity stage (see docs/search.md).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.assets import duplicate_repository as decisions
from app.assets.models import DuplicateDecision
from app.audit import service as audit
from app.core.enums import AssetKind, DuplicateVerdict
from app.core.errors import InvalidInputError, NotFoundError
from app.core.pagination import PageRows
from app.media import repository
from app.media.models import SimilarityEdge


@dataclass(frozen=True, slots=True)
class DuplicateFilter:
    """Which edges link assets: between assets of these kinds, scoring at least ``min_score``."""

    kinds: tuple[AssetKind, ...] = ()
    min_score: float | None = None


@dataclass(frozen=True, slots=True)
class Cluster:
    """A connected component of near-duplicate assets (at least two)."""

    # The smallest asset id (by UUID order): names the cluster in a cursor; it changes only
    # when the cluster itself does.
    anchor_id: uuid.UUID
    asset_ids: tuple[uuid.UUID, ...]
    # Every edge inside the cluster, best score first (ties: newer id order, as similarAssets).
    edges: tuple[SimilarityEdge, ...]

    @property
    def size(self) -> int:
        """How many assets the cluster holds."""
        return len(self.asset_ids)

    @property
    def best_score(self) -> float:
        """The highest pairwise score inside the cluster."""
        return self.edges[0].score

    @property
    def worst_score(self) -> float:
        """The lowest pairwise score of an edge inside the cluster (its weakest link)."""
        return self.edges[-1].score


ClusterKey = tuple[int, uuid.UUID]


@dataclass(frozen=True, slots=True)
class ClusterPage:
    """At most ``first`` clusters after the cluster with key ``after`` (size, anchor id)."""

    first: int
    after: ClusterKey | None = None


def cluster_key(cluster: Cluster) -> ClusterKey:
    """The ordering values of a cluster: largest first, then by anchor id."""
    return (cluster.size, cluster.anchor_id)


def _after(key: ClusterKey, cursor: ClusterKey) -> bool:
    size, anchor = key
    cursor_size, cursor_anchor = cursor
    return size < cursor_size or (size == cursor_size and anchor > cursor_anchor)


def _one_per_pair(edges: Iterable[SimilarityEdge]) -> list[SimilarityEdge]:
    """The newest edge of each pair: a model upgrade leaves the previous version's edge in place
    (docs/models.md), and one pair must not count twice."""
    newest: dict[frozenset[uuid.UUID], SimilarityEdge] = {}
    for edge in edges:
        pair = frozenset((edge.source_asset_id, edge.target_asset_id))
        kept = newest.get(pair)
        if kept is None or (edge.created_at, edge.score, edge.id) > (kept.created_at, kept.score, kept.id):
            newest[pair] = edge
    return list(newest.values())


def clusters_of(edges: Iterable[SimilarityEdge]) -> list[Cluster]:
    """Connected components over ``edges``, largest first, then by anchor id."""
    parent: dict[uuid.UUID, uuid.UUID] = {}

    def find(node: uuid.UUID) -> uuid.UUID:
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    kept = _one_per_pair(edges)
    for edge in kept:
        a, b = edge.source_asset_id, edge.target_asset_id
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        root_a, root_b = find(a), find(b)
        if root_a != root_b:
            # The smaller id becomes the root, so a component's root is its anchor.
            low, high = sorted((root_a, root_b))
            parent[high] = low
    members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for node in parent:
        members[find(node)].append(node)
    inside: dict[uuid.UUID, list[SimilarityEdge]] = defaultdict(list)
    for edge in kept:
        inside[find(edge.source_asset_id)].append(edge)
    clusters = [
        Cluster(
            anchor_id=root,
            asset_ids=tuple(sorted(ids)),
            edges=tuple(sorted(inside[root], key=lambda e: (e.score, e.id), reverse=True)),
        )
        for root, ids in members.items()
    ]
    clusters.sort(key=lambda c: (-c.size, c.anchor_id))
    return clusters


@dataclass(frozen=True, slots=True)
class ClusterRows(PageRows[Cluster]):
    """One page of clusters, and how many clusters there are in all."""

    total: int


async def list_clusters(
    session: AsyncSession, *, tenant_id: uuid.UUID, where: DuplicateFilter, page: ClusterPage
) -> ClusterRows:
    """One page of the tenant's near-duplicate clusters, largest first."""
    clusters = clusters_of(
        await repository.near_duplicate_edges(
            session, tenant_id=tenant_id, kinds=where.kinds, min_score=where.min_score
        )
    )
    after = page.after
    rest = [c for c in clusters if _after(cluster_key(c), after)] if after is not None else clusters
    return ClusterRows(rows=rest[: page.first], has_next=len(rest) > page.first, total=len(clusters))


@dataclass(frozen=True, slots=True)
class Resolution:
    """What ``resolve_duplicates`` decided: the cluster it found and one decision per pair."""

    cluster: Cluster
    kept_id: uuid.UUID
    verdict: DuplicateVerdict
    decisions: tuple[DuplicateDecision, ...]

    @property
    def hidden_ids(self) -> tuple[uuid.UUID, ...]:
        """The assets now hidden as duplicates of the kept one."""
        return tuple(d.duplicate_asset_id for d in self.decisions if d.duplicate_asset_id is not None)


async def find_cluster(session: AsyncSession, *, tenant_id: uuid.UUID, member_id: uuid.UUID) -> Cluster:
    """The tenant's current near-duplicate cluster holding ``member_id``; NotFoundError if none."""
    edges = await repository.near_duplicate_edges(session, tenant_id=tenant_id, kinds=(), min_score=None)
    for cluster in clusters_of(edges):
        if member_id in cluster.asset_ids:
            return cluster
    raise NotFoundError("no near-duplicate cluster holds this asset (any more)", field=["clusterId"])


async def resolve_duplicates(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    member_id: uuid.UUID,
    keep_id: uuid.UUID,
    verdict: DuplicateVerdict,
) -> Resolution:
    """Record an editor's verdict on the cluster holding ``member_id`` (its id names it).

    DUPLICATE: every other asset of the cluster is marked a duplicate of ``keep_id`` and hidden
    from lists and search. NOT_DUPLICATE: every scored pair of the cluster is declared not a
    duplicate and is never suggested again, whatever a later reprocess scores. A later decision
    about a pair replaces the earlier one. Audited per asset concerned.
    """
    cluster = await find_cluster(session, tenant_id=tenant_id, member_id=member_id)
    if keep_id not in cluster.asset_ids:
        raise InvalidInputError("the asset to keep is not in this cluster", field=["keep"])
    if verdict is DuplicateVerdict.DUPLICATE:
        pairs = [(keep_id, other) for other in cluster.asset_ids if other != keep_id]
    else:
        pairs = [(e.source_asset_id, e.target_asset_id) for e in cluster.edges]
    existing = await decisions.decisions_of_pairs(session, tenant_id=tenant_id, pairs=pairs)
    rows: list[DuplicateDecision] = []
    new: list[DuplicateDecision] = []
    for a, b in pairs:
        low, high = decisions.ordered(a, b)
        row = existing.get((low, high))
        if row is None:
            row = DuplicateDecision(tenant_id=tenant_id, low_asset_id=low, high_asset_id=high, actor=actor)
            new.append(row)
        row.verdict = verdict
        row.actor = actor
        duplicate = b if verdict is DuplicateVerdict.DUPLICATE else None
        row.kept_asset_id = keep_id if duplicate is not None else None
        row.duplicate_asset_id = duplicate
        rows.append(row)
    decisions.add_decisions(session, new)
    await session.flush()
    hidden = [str(r.duplicate_asset_id) for r in rows if r.duplicate_asset_id is not None]
    for asset_id in cluster.asset_ids:
        await audit.record(
            session,
            tenant_id=tenant_id,
            actor=actor,
            action="duplicates.resolve",
            entity_type="asset",
            entity_id=asset_id,
            details={
                "verdict": verdict.value,
                "kept": str(keep_id),
                "cluster": [str(i) for i in cluster.asset_ids],
                "hidden": hidden,
            },
        )
    return Resolution(cluster=cluster, kept_id=keep_id, verdict=verdict, decisions=tuple(rows))
