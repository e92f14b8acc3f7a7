"""Relations with reasons (app/media/relations.py): `Asset.related` and `relationGraph`.

`related` is a connection cut from the asset's relations (computed per request, at most
``MAX_RELATED``), ordered by combined score (desc) then asset id; the cursor is that pair.
`relationGraph` returns nodes and typed edges around one asset, bounded by `depth` (1 or 2)
and `limit` (nodes and edges each; the complexity limit counts `limit` like `first`).
"""

from __future__ import annotations

import math
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.api.context import Info
from app.api.errors import InvalidCursorError
from app.api.fields import field
from app.api.ids import decode_id, to_global_id
from app.api.media.types import SceneType, SimilarityEdgeType
from app.api.pagination import DEFAULT_PAGE_SIZE, PageInfoType, check_page_size
from app.core.enums import RelationReason, SimilarityKind
from app.core.errors import InvalidInputError, NotFoundError
from app.core.pagination import decode_cursor, encode_cursor
from app.media import relations as rel

if TYPE_CHECKING:
    from app.api.assets.types import AssetType

_ASSETS = "app.api.assets.types"
_ORDERING = "related"
MAX_DEPTH = 2
# The type name of people's IDs in SAME_PERSON evidence.
PERSON_TYPE = "Person"


@strawberry.type(name="RelatedScenePair", description="A scene of each asset that look or mean alike.")
class RelatedScenePairType:
    """One scene-to-scene link behind a SIMILAR_SCENE reason."""

    pair: strawberry.Private[rel.ScenePair]

    @field(description="The scene of the asset asked about (null if it was deleted meanwhile).")
    async def scene(self, info: Info) -> SceneType | None:
        row = await info.context.loaders.media.scene_by_id.load(self.pair.scene_id)
        return SceneType.from_row(row) if row is not None else None

    @field(description="The scene of the related asset (null if it was deleted meanwhile).")
    async def other_scene(self, info: Info) -> SceneType | None:
        row = await info.context.loaders.media.scene_by_id.load(self.pair.other_scene_id)
        return SceneType.from_row(row) if row is not None else None

    @field(description="How they are alike: VISUAL (look) or SEMANTIC (meaning).")
    def kind(self) -> SimilarityKind:
        return self.pair.kind

    @field(description="How alike (0 to 1).")
    def score(self) -> float:
        return self.pair.score


@strawberry.type(
    name="RelationReasonScore", description="One reason two assets are related, and its evidence."
)
class RelationReasonScoreType:
    """A reason, its score and what shows it."""

    row: strawberry.Private[rel.ReasonScore]

    @field(description="Why.")
    def reason(self) -> RelationReason:
        return self.row.reason

    @field(description="How strongly this reason holds (0 to 1).")
    def score(self) -> float:
        return self.row.score

    @field(description="How much this reason counts towards the combined score (0 to 1).")
    def weight(self) -> float:
        return rel.REASON_WEIGHTS[self.row.reason]

    @field(description="SIMILAR_SCENE: the best scene pairs, best first (at most 5).")
    def scene_pairs(self) -> list[RelatedScenePairType]:
        return [RelatedScenePairType(pair=p) for p in self.row.scene_pairs]

    @field(
        description="SHARED_TEXT: the shared on-screen words and phrases, rarest first; SHARED_LABEL: the "
        "shared labels, rarest first (at most 5)."
    )
    def terms(self) -> list[str]:
        return list(self.row.terms)

    @field(description="NEAR_DUPLICATE (and documents' SIMILAR_SCENE): the similarity links behind it.")
    async def similarities(self, info: Info) -> list[SimilarityEdgeType]:
        rows: list[Any] = await info.context.loaders.media.similarity_edge_by_id.load_many(
            list(self.row.edge_ids)
        )
        return [SimilarityEdgeType.from_row(r) for r in rows if r is not None]

    @field(description="SAME_PERSON: the IDs of the people both assets show.")
    def person_ids(self) -> list[strawberry.ID]:
        return [strawberry.ID(to_global_id(PERSON_TYPE, p)) for p in self.row.person_ids]


def _reasons(relation: rel.Relation) -> list[RelationReasonScoreType]:
    return [RelationReasonScoreType(row=r) for r in relation.reasons]


@strawberry.type(name="RelatedAssetEdge", description="A related asset, why, and how much.")
class RelatedAssetEdgeType:
    """Edge of RelatedAssetConnection."""

    relation: strawberry.Private[rel.Relation]
    row: strawberry.Private[Any]
    cursor: str = strawberry.field(description="Opaque position of this row; pass it as `after` to continue.")

    @field(description="The related asset.")
    def node(self) -> Annotated[AssetType, strawberry.lazy(_ASSETS)]:
        from app.api.assets.types import AssetType

        return AssetType.from_row(self.row)

    @field(description="Combined score (0 to 1): 1 - the product of (1 - weight x score) over the reasons.")
    def score(self) -> float:
        return self.relation.score

    @field(description="Every reason they are related, in a fixed order, with its evidence.")
    def reasons(self) -> list[RelationReasonScoreType]:
        return _reasons(self.relation)


@strawberry.type(name="RelatedAssetConnection", description="Related assets, strongest first.")
class RelatedAssetConnectionType:
    """Relay connection of related assets."""

    edges: list[RelatedAssetEdgeType] = strawberry.field(description="The rows of this page, in order.")
    page_info: PageInfoType = strawberry.field(description="Pagination state of this page.")


def _cursor(relation: rel.Relation) -> str:
    return encode_cursor(_ORDERING, [relation.score, str(relation.other_id)])


def _after(cursor: str) -> tuple[float, str]:
    try:
        score, other = decode_cursor(_ORDERING, cursor)
        if not isinstance(score, int | float) or isinstance(score, bool) or not math.isfinite(score):
            raise ValueError("malformed related cursor")
        return float(score), str(uuid.UUID(str(other)))
    except (ValueError, TypeError) as exc:
        raise InvalidCursorError("the cursor was not issued by related", field=["related", "after"]) from exc


async def _rows(info: Info, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    found: list[Any] = await info.context.loaders.assets.asset_by_id.load_many(ids)
    return {row.id: row for row in found if row is not None}


async def related_assets(
    info: Info, asset_id: uuid.UUID, first: int, after: str | None
) -> RelatedAssetConnectionType:
    """One page of the asset's relations (the resolver of `Asset.related`)."""
    check_page_size(info, first, field=["related", "first"])
    relations = await info.context.loaders.media.relations_by_asset.load(asset_id)
    if after is not None:
        score, other = _after(after)
        relations = [r for r in relations if (-r.score, str(r.other_id)) > (-score, other)]
    page = relations[:first]
    rows = await _rows(info, [r.other_id for r in page])
    edges = [
        RelatedAssetEdgeType(relation=r, row=rows[r.other_id], cursor=_cursor(r))
        for r in page
        if r.other_id in rows
    ]
    return RelatedAssetConnectionType(
        edges=edges,
        page_info=PageInfoType(
            has_next_page=len(relations) > first,
            has_previous_page=False,
            start_cursor=_cursor(page[0]) if page else None,
            end_cursor=_cursor(page[-1]) if page else None,
        ),
    )


@strawberry.type(name="RelationGraphEdge", description="A typed, undirected edge of a relation graph.")
class RelationGraphEdgeType:
    """Two nodes of the graph and why they are related."""

    relation: strawberry.Private[rel.Relation]

    @field(description="The ID of one asset (a node of the graph; from it the other was found).")
    def source(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Asset", self.relation.asset_id))

    @field(description="The ID of the other asset (a node of the graph).")
    def target(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Asset", self.relation.other_id))

    @field(description="Combined score (0 to 1).")
    def score(self) -> float:
        return self.relation.score

    @field(description="Every reason they are related, with its evidence.")
    def reasons(self) -> list[RelationReasonScoreType]:
        return _reasons(self.relation)


@strawberry.type(name="RelationGraph", description="The assets around one asset and how they relate.")
class RelationGraphType:
    """Nodes and edges for a graph view."""

    rows: strawberry.Private[list[Any]]
    graph_edges: strawberry.Private[list[rel.Relation]]

    @field(description="The assets, the one asked about first, then breadth first (strongest first).")
    def nodes(self) -> list[Annotated[AssetType, strawberry.lazy(_ASSETS)]]:
        from app.api.assets.types import AssetType

        return [AssetType.from_row(row) for row in self.rows]

    @field(
        description="The edges: first those that reached each node (the graph is connected), then the "
        "strongest others between nodes; at most `limit`."
    )
    def edges(self) -> list[RelationGraphEdgeType]:
        return [RelationGraphEdgeType(relation=r) for r in self.graph_edges]


@strawberry.type
class RelationQueries:
    """Root field of the relation graph."""

    @field(
        description="The assets related to one asset, and to those (depth 2), as nodes and typed edges with "
        "reasons, for a graph view; at most `limit` nodes and `limit` edges."
    )
    async def relation_graph(
        self,
        info: Info,
        asset_id: Annotated[strawberry.ID, strawberry.argument(description="The Asset at the centre.")],
        depth: Annotated[int, strawberry.argument(description="How many relations away: 1 or 2.")] = 1,
        limit: Annotated[
            int,
            strawberry.argument(description="At most this many nodes and edges (1 to the page-size cap)."),
        ] = DEFAULT_PAGE_SIZE,
    ) -> RelationGraphType:
        root = decode_id(str(asset_id), "Asset", field=["assetId"])
        if not 1 <= depth <= MAX_DEPTH:
            raise InvalidInputError(f"depth must be 1 or {MAX_DEPTH}", field=["depth"])
        cap = info.context.settings.max_page_size
        if not 1 <= limit <= cap:
            raise InvalidInputError(f"limit must be between 1 and {cap}", field=["limit"])
        if await info.context.loaders.assets.asset_by_id.load(root) is None:
            raise NotFoundError("no such asset", field=["assetId"])
        async with info.context.read_session_factory() as session:
            graph = await rel.relation_graph(
                session, tenant_id=info.context.caller.tenant_id, root_id=root, depth=depth, limit=limit
            )
        rows = await _rows(info, list(graph.node_ids))
        nodes = [rows[i] for i in graph.node_ids if i in rows]
        kept = {row.id for row in nodes}
        edges = [e for e in graph.edges if e.asset_id in kept and e.other_id in kept]
        return RelationGraphType(rows=nodes, graph_edges=edges)
