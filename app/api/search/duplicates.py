"""The `duplicates` root field: clusters of near-duplicate assets (see app/media/duplicates.py).

A cluster is not a Node: it is a connected component computed per request, and it changes as
soon as an edge or an asset does. Pages are keyset-ordered by (size desc, anchor id asc), the
anchor being the cluster's smallest asset id, so the cursor is that pair.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.api.context import Info
from app.api.errors import InvalidCursorError
from app.api.fields import field
from app.api.ids import to_global_id
from app.api.media.types import SimilarityEdgeType
from app.api.pagination import DEFAULT_PAGE_SIZE, PageInfoType, check_page_size
from app.api.scalars import After, First
from app.assets.models import Asset
from app.core.enums import AssetKind
from app.core.errors import InvalidInputError
from app.core.pagination import decode_cursor, encode_cursor
from app.media import duplicates as dup
from app.media.models import SimilarityEdge

if TYPE_CHECKING:
    from app.api.assets.types import AssetType

_ASSETS = "app.api.assets.types"
# The type name inside a cluster's ID (app/api/search/resolve_duplicates.py decodes it).
CLUSTER_TYPE = "DuplicateCluster"
_ORDERING = "duplicates"
# Values a list inside a cluster returns when the client gives no `first`.
DEFAULT_CLUSTER_ITEMS = 20

ListSize = Annotated[
    int,
    strawberry.argument(description="How many to return: 0 up to the page-size cap (100 by default)."),
]


def encode_cluster_cursor(key: dup.ClusterKey) -> str:
    """The cursor after the cluster with this key."""
    size, anchor = key
    return encode_cursor(_ORDERING, [size, str(anchor)])


def decode_cluster_cursor(cursor: str) -> dup.ClusterKey:
    """The cluster key inside ``cursor``; INVALID_CURSOR unless `duplicates` issued it."""
    try:
        size, anchor = decode_cursor(_ORDERING, cursor)
        if not isinstance(size, int) or isinstance(size, bool) or not isinstance(anchor, str):
            raise ValueError("malformed duplicates cursor")
        return size, uuid.UUID(anchor)
    except (ValueError, TypeError) as exc:
        raise InvalidCursorError("the cursor was not issued by duplicates", field=["after"]) from exc


@strawberry.input(name="DuplicateFilter", description="Which near-duplicate links form clusters.")
class DuplicateFilterInput:
    """Filters of the duplicates connection."""

    kinds: list[AssetKind] | None = strawberry.field(
        default=None, description="Only assets of these kinds (near-duplicates always share a kind)."
    )
    min_score: float | None = strawberry.field(
        default=None,
        description="Only links scoring at least this (0 to 1): a stricter threshold splits clusters.",
    )

    def to_filter(self) -> dup.DuplicateFilter:
        """The domain filter, checked."""
        if self.min_score is not None and not (math.isfinite(self.min_score) and 0 <= self.min_score <= 1):
            raise InvalidInputError("minScore must be between 0 and 1", field=["filter", "minScore"])
        return dup.DuplicateFilter(kinds=tuple(sorted(set(self.kinds or ()))), min_score=self.min_score)


@strawberry.type(name="DuplicatePair", description="Two assets of a cluster and how alike they are.")
class DuplicatePairType:
    """One near_duplicate edge inside a cluster."""

    edge: strawberry.Private[SimilarityEdge]
    source_row: strawberry.Private[Asset]
    target_row: strawberry.Private[Asset]

    @field(description="One asset of the pair (pairs are symmetric).")
    def source(self) -> Annotated[AssetType, strawberry.lazy(_ASSETS)]:
        from app.api.assets.types import AssetType

        return AssetType.from_row(self.source_row)

    @field(description="The other asset of the pair.")
    def target(self) -> Annotated[AssetType, strawberry.lazy(_ASSETS)]:
        from app.api.assets.types import AssetType

        return AssetType.from_row(self.target_row)

    @field(description="How alike the two are (0 to 1; at or above the near-duplicate threshold).")
    def score(self) -> float:
        return self.edge.score

    @field(description="The link itself (model, version, when it was scored).")
    def similarity(self) -> SimilarityEdgeType:
        return SimilarityEdgeType.from_row(self.edge)


@strawberry.type(
    name="DuplicateCluster",
    description="Assets that are near-duplicates of one another, directly or through a chain of links.",
)
class DuplicateClusterType:
    """A connected component of near_duplicate links between live assets."""

    cluster: strawberry.Private[dup.Cluster]
    # Live asset rows of the cluster, original (oldest) first.
    rows: strawberry.Private[list[Asset]]

    @field(
        description="Names the cluster for resolveDuplicates: it is the cluster that holds its smallest "
        "asset (it changes only when the cluster does)."
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id(CLUSTER_TYPE, self.cluster.anchor_id))

    @field(description="How many assets the cluster holds (at least 2).")
    def size(self) -> int:
        return len(self.rows)

    @field(description="How many scored pairs link the cluster's assets.")
    def pair_count(self) -> int:
        return len(self._pairs())

    @field(description="The highest pairwise score in the cluster.")
    def best_score(self) -> float:
        return max(edge.score for edge, _, _ in self._pairs())

    @field(description="The lowest pairwise score in the cluster: its weakest link.")
    def worst_score(self) -> float:
        return min(edge.score for edge, _, _ in self._pairs())

    @field(description="The assets, oldest first (the original upload is usually the first).")
    def assets(
        self, info: Info, first: ListSize = DEFAULT_CLUSTER_ITEMS
    ) -> list[Annotated[AssetType, strawberry.lazy(_ASSETS)]]:
        from app.api.assets.types import AssetType

        check_page_size(info, first, field=["assets", "first"])
        return [AssetType.from_row(row) for row in self.rows[:first]]

    @field(description="The scored pairs, best first.")
    def pairs(self, info: Info, first: ListSize = DEFAULT_CLUSTER_ITEMS) -> list[DuplicatePairType]:
        check_page_size(info, first, field=["pairs", "first"])
        return [
            DuplicatePairType(edge=edge, source_row=source, target_row=target)
            for edge, source, target in self._pairs()[:first]
        ]

    def _pairs(self) -> list[tuple[SimilarityEdge, Asset, Asset]]:
        by_id = {row.id: row for row in self.rows}
        return [
            (edge, by_id[edge.source_asset_id], by_id[edge.target_asset_id])
            for edge in self.cluster.edges
            if edge.source_asset_id in by_id and edge.target_asset_id in by_id
        ]


@strawberry.type(name="DuplicateClusterEdge", description="One cluster and its cursor.")
class DuplicateClusterEdgeType:
    """Edge of DuplicateClusterConnection."""

    cursor: str = strawberry.field(
        description="Opaque position of this cluster; pass it as `after` to continue after it."
    )
    node: DuplicateClusterType = strawberry.field(description="The cluster.")


@strawberry.type(name="DuplicateClusterConnection", description="Near-duplicate clusters, largest first.")
class DuplicateClusterConnectionType:
    """Relay connection of clusters."""

    edges: list[DuplicateClusterEdgeType] = strawberry.field(description="The clusters of this page.")
    page_info: PageInfoType = strawberry.field(description="Pagination state of this page.")
    total_count: int = strawberry.field(description="How many clusters match the filter in all.")


@dataclass(frozen=True, slots=True)
class _Loaded:
    cluster: dup.Cluster
    rows: list[Asset]


async def _with_assets(info: Info, clusters: list[dup.Cluster]) -> list[_Loaded]:
    """Each cluster with its live asset rows (one statement for the whole page)."""
    ids = [asset_id for cluster in clusters for asset_id in cluster.asset_ids]
    found: list[Any] = await info.context.loaders.assets.asset_by_id.load_many(ids)
    by_id = {row.id: row for row in found if row is not None}
    loaded = []
    for cluster in clusters:
        rows = sorted(
            (by_id[i] for i in cluster.asset_ids if i in by_id), key=lambda row: (row.created_at, row.id)
        )
        # An asset deleted between the two reads leaves a cluster of one: not a duplicate any more.
        if len(rows) >= 2:
            loaded.append(_Loaded(cluster, rows))
    return loaded


@strawberry.type
class DuplicateQueries:
    """Root field of near-duplicate clusters."""

    @field(
        description="Groups of assets that are near-duplicates of one another (re-encodes, resized or "
        "recompressed copies), largest first; deleted assets never appear."
    )
    async def duplicates(
        self,
        info: Info,
        filter: Annotated[
            DuplicateFilterInput | None, strawberry.argument(description="Which links form clusters.")
        ] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> DuplicateClusterConnectionType:
        check_page_size(info, first, field=["first"])
        where = (filter or DuplicateFilterInput()).to_filter()
        page = dup.ClusterPage(first=first, after=decode_cluster_cursor(after) if after is not None else None)
        async with info.context.read_session_factory() as session:
            result = await dup.list_clusters(
                session, tenant_id=info.context.caller.tenant_id, where=where, page=page
            )
        edges = [
            DuplicateClusterEdgeType(
                cursor=encode_cluster_cursor(dup.cluster_key(item.cluster)),
                node=DuplicateClusterType(cluster=item.cluster, rows=item.rows),
            )
            for item in await _with_assets(info, result.rows)
        ]
        # The end cursor is the last cluster read, even one dropped above, so the next page
        # starts after it.
        end = encode_cluster_cursor(dup.cluster_key(result.rows[-1])) if result.rows else None
        return DuplicateClusterConnectionType(
            edges=edges,
            page_info=PageInfoType(
                has_next_page=result.has_next,
                has_previous_page=False,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=end,
            ),
            total_count=result.total,
        )
