"""The query documents of graphql/operations/ against a known graph: exact payloads."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from app.api.pagination import encode_cursor
from app.api.schema import schema
from app.assets.repository import asset_ordering
from app.audit.repository import AUDIT_ORDER
from app.core.container import Services
from app.core.enums import JobStatus
from app.jobs.models import Job, JobStage
from app.jobs.repository import JOB_ORDER
from app.media.repository import SCENE_ORDER
from app.tenancy.models import Tenant
from graphql import GraphQLInterfaceType
from tests.api.conftest import GraphQLClient, SignedBlobUrl, operation
from tests.api.graph import Graph, _stages, build_graph, gid


@pytest.fixture
async def graph(services: Services, tenant: Tenant) -> Graph:
    return await build_graph(services.session_factory, tenant.id, services.blobs)


def _nodes(connection: dict[str, Any]) -> list[Any]:
    return [edge["node"] for edge in connection["edges"]]


async def test_asset_page(
    gql: GraphQLClient, graph: Graph, signed_url: Callable[[str], SignedBlobUrl]
) -> None:
    g = graph
    body = await gql(operation("AssetPage"), {"id": gid("Asset", g.harbour.id)})
    last = g.scenes[2]
    assert body == {
        "data": {
            "asset": {
                "id": gid("Asset", g.harbour.id),
                "title": "Harbour at dawn",
                "kind": "VIDEO",
                "status": "READY",
                "mimeType": "video/mp4",
                "sizeBytes": 1000,
                "durationSeconds": 12.0,
                "width": 1280,
                "height": 720,
                "tags": ["boats", "sea"],
                "metadata": {"camera": "A7"},
                "scenes": {
                    "edges": [
                        {
                            "node": {
                                "id": gid("Scene", s.id),
                                "ordinal": s.ordinal,
                                "startSeconds": 4.0 * s.ordinal,
                                "endSeconds": 4.0 * (s.ordinal + 1),
                                "keyframeUrl": signed_url(g.keyframe_key) if s.ordinal == 0 else None,
                            }
                        }
                        for s in g.scenes
                    ],
                    "pageInfo": {
                        "hasNextPage": False,
                        "endCursor": encode_cursor(SCENE_ORDER, (8.0, last.id)),
                    },
                },
                "jobs": {
                    "edges": [
                        {
                            "node": {
                                "id": gid("Job", g.jobs["harbour"].id),
                                "status": "SUCCEEDED",
                                "progress": 1.0,
                            }
                        },
                        {
                            "node": {
                                "id": gid("Job", g.jobs["harbour_cancelled"].id),
                                "status": "CANCELLED",
                                "progress": 0.0,
                            }
                        },
                    ]
                },
                # The 0.99 and 0.41 links lead to a deleted asset; the 0.71 one is stored with
                # the harbour as its target.
                "similarAssets": {
                    "edges": [
                        {
                            "score": 0.97,
                            "kind": "NEAR_DUPLICATE",
                            "node": {"id": gid("Asset", g.poster.id), "title": "Harbour poster"},
                        },
                        {
                            "score": 0.71,
                            "kind": "SEMANTIC",
                            "node": {"id": gid("Asset", g.interview.id), "title": "Interview"},
                        },
                    ]
                },
                "auditEvents": {
                    "edges": [{"node": {"action": "asset.update", "actor": "editor@example.org"}}]
                },
            }
        }
    }


async def test_scene_browser(
    gql: GraphQLClient, graph: Graph, signed_url: Callable[[str], SignedBlobUrl]
) -> None:
    g = graph
    scene = g.scenes[0]
    assert g.poster_scene is not None
    body = await gql(operation("SceneBrowser"), {"id": gid("Scene", scene.id), "minConfidence": 0.5})
    assert body == {
        "data": {
            "scene": {
                "id": gid("Scene", scene.id),
                "ordinal": 0,
                "startSeconds": 0.0,
                "endSeconds": 4.0,
                "keyframeUrl": signed_url(g.keyframe_key),
                "thumbnailUrl": None,
                "asset": {"id": gid("Asset", g.harbour.id), "title": "Harbour at dawn"},
                # The second segment runs across the cut at 4.0 s, so it is in this scene too.
                "transcript": {
                    "edges": [
                        {
                            "node": {
                                "text": "The boats leave the harbour.",
                                "startSeconds": 0.5,
                                "endSeconds": 3.5,
                            }
                        },
                        {"node": {"text": "Gulls follow them.", "startSeconds": 3.8, "endSeconds": 5.0}},
                    ]
                },
                # The face (0.42) is below minConfidence; the text detection is in scene 1.
                "detections": {
                    "edges": [
                        {
                            "node": {
                                "kind": "LABEL",
                                "label": "boat",
                                "confidence": 0.91,
                                "timeSeconds": 1.0,
                                "box": {"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.4},
                            }
                        }
                    ]
                },
                "similarScenes": {
                    "edges": [
                        {
                            "score": 0.83,
                            "kind": "VISUAL",
                            "node": {
                                "id": gid("Scene", g.poster_scene.id),
                                "startSeconds": 0.0,
                                "asset": {"title": "Harbour poster"},
                            },
                        }
                    ]
                },
            }
        }
    }


async def test_scene_browser_without_confidence_floor_lists_every_detection(
    gql: GraphQLClient, graph: Graph
) -> None:
    body = await gql(operation("SceneBrowser"), {"id": gid("Scene", graph.scenes[0].id)})
    labels = [n["label"] for n in _nodes(body["data"]["scene"]["detections"])]
    assert labels == ["boat", "face"]


async def test_transcript_search(gql: GraphQLClient, graph: Graph) -> None:
    g = graph
    variables = {"assetId": gid("Asset", g.harbour.id), "phrase": "HARBOUR"}
    body = await gql(operation("TranscriptSearch"), variables)
    first, _, third = g.segments
    assert body == {
        "data": {
            "asset": {
                "id": gid("Asset", g.harbour.id),
                "transcript": {
                    "edges": [
                        {
                            "node": {
                                "id": gid("TranscriptSegment", first.id),
                                "text": "The boats leave the harbour.",
                                "startSeconds": 0.5,
                                "endSeconds": 3.5,
                                "words": [
                                    {"word": w["word"], "startSeconds": w["start"], "endSeconds": w["end"]}
                                    for w in first.words
                                ],
                                "scene": {"id": gid("Scene", g.scenes[0].id)},
                            }
                        },
                        {
                            "node": {
                                "id": gid("TranscriptSegment", third.id),
                                "text": "Back to the harbour at noon.",
                                "startSeconds": 9.0,
                                "endSeconds": 11.0,
                                "words": [],
                                "scene": None,
                            }
                        },
                    ],
                    "pageInfo": {"hasNextPage": False},
                },
            }
        }
    }
    # A time range keeps the segments overlapping it.
    ranged = await gql(operation("TranscriptSearch"), {**variables, "from": 8.0, "to": 12.0})
    assert [n["id"] for n in _nodes(ranged["data"]["asset"]["transcript"])] == [
        gid("TranscriptSegment", third.id)
    ]


def _stage_nodes(rows: list[tuple[str, str, float, int, str | None, str | None]]) -> dict[str, Any]:
    keys = ("name", "status", "progress", "attempts", "errorCode", "skipReason")
    return {"edges": [{"node": dict(zip(keys, row, strict=True))} for row in rows]}


async def test_job_monitor(gql: GraphQLClient, graph: Graph) -> None:
    g = graph
    body = await gql(operation("JobMonitor"), {"status": ["RUNNING", "FAILED"], "first": 10})
    skipped = "not requested"
    assert body == {
        "data": {
            "jobs": {
                # Newest first; the succeeded and cancelled harbour jobs are filtered out.
                "edges": [
                    {
                        "node": {
                            "id": gid("Job", g.jobs["poster"].id),
                            "status": "FAILED",
                            "quality": "ROUTED",
                            "progress": 0.25,
                            "currentStage": "ocr",
                            "errorCode": "CORRUPT_MEDIA",
                            "asset": {"id": gid("Asset", g.poster.id), "title": "Harbour poster"},
                            "stages": _stage_nodes(
                                [
                                    ("probe", "SUCCEEDED", 1.0, 1, None, None),
                                    ("text", "SKIPPED", 0.0, 0, None, skipped),
                                    ("scenes", "SUCCEEDED", 1.0, 1, None, None),
                                    ("transcribe", "SKIPPED", 0.0, 0, None, skipped),
                                    ("ocr", "FAILED", 0.0, 1, "CORRUPT_MEDIA", None),
                                    ("detect", "SUCCEEDED", 1.0, 1, None, None),
                                    ("embed", "PENDING", 0.0, 1, None, None),
                                    ("similarity", "PENDING", 0.0, 1, None, None),
                                    ("index", "PENDING", 0.0, 1, None, None),
                                ]
                            ),
                        }
                    },
                    {
                        "node": {
                            "id": gid("Job", g.jobs["interview"].id),
                            "status": "RUNNING",
                            "quality": "ROUTED",
                            "progress": 0.5,
                            "currentStage": "transcribe",
                            "errorCode": None,
                            "asset": {"id": gid("Asset", g.interview.id), "title": "Interview"},
                            "stages": _stage_nodes(
                                [
                                    ("probe", "SUCCEEDED", 1.0, 1, None, None),
                                    ("text", "SKIPPED", 0.0, 0, None, skipped),
                                    ("scenes", "SUCCEEDED", 1.0, 1, None, None),
                                    ("transcribe", "RUNNING", 0.0, 1, None, None),
                                    ("ocr", "SKIPPED", 0.0, 0, None, skipped),
                                    ("detect", "SKIPPED", 0.0, 0, None, skipped),
                                    ("embed", "PENDING", 0.0, 1, None, None),
                                    ("similarity", "PENDING", 0.0, 1, None, None),
                                    ("index", "PENDING", 0.0, 1, None, None),
                                ]
                            ),
                        }
                    },
                ],
                "pageInfo": {
                    "hasNextPage": False,
                    "endCursor": encode_cursor(
                        JOB_ORDER, (g.jobs["interview"].created_at, g.jobs["interview"].id)
                    ),
                },
            }
        }
    }


async def test_asset_list_pages_with_keyset_cursors(gql: GraphQLClient, graph: Graph) -> None:
    g = graph
    first = await gql(operation("AssetList"), {"first": 2})
    page = first["data"]["assets"]
    # Newest first; the deleted asset is never listed.
    assert [n["title"] for n in _nodes(page)] == ["Harbour poster", "Interview"]
    assert page["pageInfo"]["hasNextPage"] is True
    second = await gql(operation("AssetList"), {"first": 2, "after": page["pageInfo"]["endCursor"]})
    assert second["data"]["assets"] == {
        "edges": [
            {
                "cursor": encode_cursor(
                    asset_ordering("created_at", True), (g.harbour.created_at, g.harbour.id)
                ),
                "node": {
                    "id": gid("Asset", g.harbour.id),
                    "title": "Harbour at dawn",
                    "kind": "VIDEO",
                    "status": "READY",
                    "durationSeconds": 12.0,
                    "tags": ["boats", "sea"],
                },
            }
        ],
        "pageInfo": {
            "hasNextPage": False,
            "endCursor": encode_cursor(
                asset_ordering("created_at", True), (g.harbour.created_at, g.harbour.id)
            ),
        },
    }


@pytest.mark.parametrize(
    ("variables", "titles"),
    [
        ({"filter": {"kind": ["IMAGE", "AUDIO"]}}, ["Harbour poster", "Interview"]),
        ({"filter": {"status": ["READY"]}}, ["Harbour poster", "Harbour at dawn"]),
        ({"filter": {"tag": "sea"}}, ["Harbour poster", "Harbour at dawn"]),
        ({"filter": {"tag": "boats"}}, ["Harbour at dawn"]),
        ({"filter": {"tag": "Sea"}}, []),
        ({"filter": {"titleContains": "HARBOUR"}}, ["Harbour poster", "Harbour at dawn"]),
        ({"filter": {"titleContains": "%"}}, []),
        ({"filter": {"minDurationSeconds": 10, "maxDurationSeconds": 20}}, ["Harbour at dawn"]),
        ({"filter": {"createdAfter": "2026-01-05T09:02:00+00:00"}}, ["Harbour poster", "Interview"]),
        ({"filter": {"createdBefore": "2026-01-05T09:02:00+00:00"}}, ["Harbour at dawn"]),
        (
            {"orderBy": {"field": "TITLE", "direction": "ASC"}},
            ["Harbour at dawn", "Harbour poster", "Interview"],
        ),
    ],
)
async def test_asset_filters_and_ordering(
    gql: GraphQLClient, graph: Graph, variables: dict[str, Any], titles: list[str]
) -> None:
    body = await gql(operation("AssetList"), {"first": 10, **variables})
    assert [n["title"] for n in _nodes(body["data"]["assets"])] == titles


async def test_title_ordering_pages_without_skipping(gql: GraphQLClient, graph: Graph) -> None:
    order = {"field": "TITLE", "direction": "DESC"}
    seen: list[str] = []
    after = None
    while True:
        body = await gql(operation("AssetList"), {"first": 1, "orderBy": order, "after": after})
        page = body["data"]["assets"]
        seen += [n["title"] for n in _nodes(page)]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["Interview", "Harbour poster", "Harbour at dawn"]


async def test_node_resolves_every_type(gql: GraphQLClient, services: Services, graph: Graph) -> None:
    g = graph
    assert g.poster_scene is not None
    async with services.session_factory() as session:
        ocr = (
            await session.scalars(
                select(JobStage).where(JobStage.job_id == g.jobs["poster"].id, JobStage.name == "ocr")
            )
        ).one()
    cases: list[tuple[str, uuid.UUID, str, dict[str, Any]]] = [
        ("Asset", g.harbour.id, "... on Asset { title }", {"title": "Harbour at dawn"}),
        ("Scene", g.scenes[1].id, "... on Scene { ordinal }", {"ordinal": 1}),
        ("TranscriptSegment", g.segments[1].id, "... on TranscriptSegment { text }",
         {"text": "Gulls follow them."}),
        ("Detection", g.detections[2].id, "... on Detection { label scene { ordinal } }",
         {"label": "HARBOUR", "scene": {"ordinal": 1}}),
        ("SimilarityEdge", g.edges[1].id,
         "... on SimilarityEdge { score source { ... on Asset { title } } "
         "target { ... on Asset { title } } }",
         {"score": 0.71, "source": {"title": "Interview"}, "target": {"title": "Harbour at dawn"}}),
        ("Job", g.jobs["poster"].id, "... on Job { errorCode }", {"errorCode": "CORRUPT_MEDIA"}),
        ("JobStage", ocr.id, "... on JobStage { name errorCode job { id } }",
         {"name": "ocr", "errorCode": "CORRUPT_MEDIA", "job": {"id": gid("Job", g.jobs["poster"].id)}}),
        ("AuditEvent", g.audit[1].id, "... on AuditEvent { action entityType entityId details }",
         {"action": "asset.update", "entityType": "asset", "entityId": gid("Asset", g.harbour.id),
          "details": {"changed": ["tags"]}}),
        ("Person", g.people[0].id, "... on Person { name faceCount }", {"name": "Ada", "faceCount": 1}),
    ]  # fmt: skip
    # Every type implementing Node is covered.
    node = schema._schema.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType)
    assert {case[0] for case in cases} == {t.name for t in schema._schema.get_possible_types(node)}
    for type_name, row_id, fragment, expected in cases:
        body = await gql(
            f"query($id: ID!) {{ node(id: $id) {{ __typename id {fragment} }} }}",
            {"id": gid(type_name, row_id)},
        )
        assert body == {"data": {"node": {"__typename": type_name, "id": gid(type_name, row_id), **expected}}}


async def test_deleted_assets_and_their_scenes_are_invisible(gql: GraphQLClient, graph: Graph) -> None:
    body = await gql("query($id: ID!) { asset(id: $id) { id } }", {"id": gid("Asset", graph.deleted.id)})
    assert body == {"data": {"asset": None}}


async def test_a_deleted_assets_jobs_and_stages_are_invisible(
    gql: GraphQLClient, services: Services, graph: Graph
) -> None:
    # A client holding the ids of a deleted asset's job and stages (from before the deletion)
    # learns nothing through node, job or the jobs connection.
    job = Job(
        tenant_id=graph.deleted.tenant_id,
        asset_id=graph.deleted.id,
        pipeline="media",
        status=JobStatus.CANCELLED,
        progress=0.0,
        attempts=0,
    )
    async with services.session_factory() as session:
        session.add(job)
        await session.flush()
        stages = _stages(job, {})
        session.add_all(stages)
        await session.commit()
    body = await gql(
        "query($j: ID!, $s: ID!) { job(id: $j) { id } node(id: $s) { id } jobNode: node(id: $j) { id } }",
        {"j": gid("Job", job.id), "s": gid("JobStage", stages[0].id)},
    )
    assert body == {"data": {"job": None, "node": None, "jobNode": None}}
    listed = await gql("{ jobs(first: 100) { edges { node { id } } } }")
    assert gid("Job", job.id) not in {e["node"]["id"] for e in listed["data"]["jobs"]["edges"]}
    # The live assets' jobs and stages still resolve.
    live = graph.jobs["harbour"]
    still = await gql("query($j: ID!) { node(id: $j) { id } }", {"j": gid("Job", live.id)})
    assert still == {"data": {"node": {"id": gid("Job", live.id)}}}


async def test_another_tenants_rows_are_invisible(
    gql: GraphQLClient, services: Services, graph: Graph
) -> None:
    from app.tenancy.service import ensure_tenant

    async with services.session_factory() as session:
        other = await ensure_tenant(session, slug="other")
        await session.commit()
    stranger = await build_graph(services.session_factory, other.id, services.blobs)
    body = await gql(
        "query($a: ID!, $s: ID!) { asset(id: $a) { id } scene(id: $s) { id } }",
        {"a": gid("Asset", stranger.harbour.id), "s": gid("Scene", stranger.scenes[0].id)},
    )
    assert body == {"data": {"asset": None, "scene": None}}
    listed = await gql(operation("AssetList"), {"first": 10})
    assert len(listed["data"]["assets"]["edges"]) == 3


ASSET_DETECTIONS = """
query($id: ID!, $filter: DetectionFilter, $first: Int = 20) {
  asset(id: $id) {
    detections(filter: $filter, first: $first) {
      edges { node { label kind scene { ordinal } } }
      pageInfo { hasNextPage }
    }
  }
}
"""


@pytest.mark.parametrize(
    ("detection_filter", "labels"),
    [
        (None, ["boat", "face", "HARBOUR"]),
        ({"kind": ["FACE", "TEXT"]}, ["face", "HARBOUR"]),
        ({"kind": ["LABEL"]}, ["boat"]),
        # Case-insensitive, but the whole value.
        ({"label": "harbour"}, ["HARBOUR"]),
        ({"label": "BOAT"}, ["boat"]),
        ({"label": "boa"}, []),
        ({"kind": ["LABEL"], "label": "face"}, []),
        ({"kind": ["LABEL", "FACE"], "minConfidence": 0.5}, ["boat"]),
    ],
)
async def test_asset_detections_filter_by_kind_label_and_confidence(
    gql: GraphQLClient, graph: Graph, detection_filter: dict[str, Any] | None, labels: list[str]
) -> None:
    body = await gql(ASSET_DETECTIONS, {"id": gid("Asset", graph.harbour.id), "filter": detection_filter})
    assert [n["label"] for n in _nodes(body["data"]["asset"]["detections"])] == labels


@pytest.mark.parametrize(
    ("time_range", "labels"),
    [
        ({"from": 1.0, "to": 5.0}, ["boat", "face"]),  # 5.0 itself is the next range's
        ({"from": 2.0}, ["face", "HARBOUR"]),
        ({"to": 2.0}, ["boat"]),
        ({"from": 5.0, "to": 5.0}, []),
        ({"from": 0.0, "to": 12.0, "filter": {"kind": ["TEXT", "LABEL"]}}, ["boat", "HARBOUR"]),
    ],
)
async def test_asset_detections_in_a_time_range(
    gql: GraphQLClient, graph: Graph, time_range: dict[str, Any], labels: list[str]
) -> None:
    document = """
    query($id: ID!, $from: Float, $to: Float, $filter: DetectionFilter) {
      asset(id: $id) { detections(from: $from, to: $to, filter: $filter) { edges { node { label } } } }
    }
    """
    body = await gql(document, {"id": gid("Asset", graph.harbour.id), **time_range})
    assert [n["label"] for n in _nodes(body["data"]["asset"]["detections"])] == labels


async def test_asset_detections_refuse_a_reversed_time_range(gql: GraphQLClient, graph: Graph) -> None:
    document = "query($id: ID!) { asset(id: $id) { detections(from: 5, to: 1) { edges { cursor } } } }"
    body = await gql(document, {"id": gid("Asset", graph.harbour.id)})
    assert body["data"] == {"asset": None}
    assert [(e["message"], e["path"], e["extensions"]) for e in body["errors"]] == [
        (
            "`from` must not be after `to`",
            ["asset", "detections"],
            {"code": "INVALID_INPUT", "field": ["detections", "from"]},
        )
    ]


async def test_asset_detections_in_time_order_with_their_scenes(gql: GraphQLClient, graph: Graph) -> None:
    body = await gql(ASSET_DETECTIONS, {"id": gid("Asset", graph.harbour.id), "first": 2})
    assert body["data"]["asset"]["detections"] == {
        "edges": [
            {"node": {"label": "boat", "kind": "LABEL", "scene": {"ordinal": 0}}},
            {"node": {"label": "face", "kind": "FACE", "scene": {"ordinal": 0}}},
        ],
        "pageInfo": {"hasNextPage": True},
    }


async def test_scene_detections_filter_by_kind_and_label(gql: GraphQLClient, graph: Graph) -> None:
    document = """
    query($id: ID!, $a: DetectionFilter, $b: DetectionFilter) {
      scene(id: $id) {
        a: detections(filter: $a) { edges { node { label } } }
        b: detections(filter: $b) { edges { node { label } } }
      }
    }
    """
    variables = {"id": gid("Scene", graph.scenes[0].id), "a": {"kind": ["FACE"]}, "b": {"label": "Boat"}}
    body = await gql(document, variables)
    assert body == {
        "data": {
            "scene": {
                "a": {"edges": [{"node": {"label": "face"}}]},
                "b": {"edges": [{"node": {"label": "boat"}}]},
            }
        }
    }


@pytest.mark.parametrize(
    ("status", "jobs"),
    [
        (None, ["harbour", "harbour_cancelled"]),
        (["CANCELLED"], ["harbour_cancelled"]),
        (["SUCCEEDED", "CANCELLED"], ["harbour", "harbour_cancelled"]),
        (["FAILED"], []),
    ],
)
async def test_asset_jobs_filter_by_status(
    gql: GraphQLClient, graph: Graph, status: list[str] | None, jobs: list[str]
) -> None:
    document = """
    query($id: ID!, $status: [JobStatus!]) {
      asset(id: $id) { jobs(status: $status) { edges { node { id status } } } }
    }
    """
    body = await gql(document, {"id": gid("Asset", graph.harbour.id), "status": status})
    assert [n["id"] for n in _nodes(body["data"]["asset"]["jobs"])] == [
        gid("Job", graph.jobs[name].id) for name in jobs
    ]


async def test_similarity_filter_by_kind(gql: GraphQLClient, graph: Graph) -> None:
    g = graph
    document = """
    query($asset: ID!, $scene: ID!, $kind: [SimilarityKind!]) {
      asset(id: $asset) { similarAssets(filter: { kind: $kind }) { edges { score kind node { id } } } }
      scene(id: $scene) { similarScenes(filter: { kind: $kind }) { edges { score kind node { id } } } }
    }
    """
    ids = {"asset": gid("Asset", g.harbour.id), "scene": gid("Scene", g.scenes[0].id)}
    semantic = await gql(document, {**ids, "kind": ["SEMANTIC"]})
    # Below any minScore, but of the kind; the 0.41 SEMANTIC link leads to a deleted asset.
    assert semantic == {
        "data": {
            "asset": {
                "similarAssets": {
                    "edges": [
                        {"score": 0.71, "kind": "SEMANTIC", "node": {"id": gid("Asset", g.interview.id)}}
                    ]
                }
            },
            "scene": {"similarScenes": {"edges": []}},
        }
    }
    assert g.poster_scene is not None
    visual = await gql(document, {**ids, "kind": ["VISUAL", "NEAR_DUPLICATE"]})
    assert visual == {
        "data": {
            "asset": {
                "similarAssets": {
                    "edges": [
                        {"score": 0.97, "kind": "NEAR_DUPLICATE", "node": {"id": gid("Asset", g.poster.id)}}
                    ]
                }
            },
            "scene": {
                "similarScenes": {
                    "edges": [
                        {"score": 0.83, "kind": "VISUAL", "node": {"id": gid("Scene", g.poster_scene.id)}}
                    ]
                }
            },
        }
    }


async def test_deleted_assets_are_never_similar(gql: GraphQLClient, graph: Graph) -> None:
    """The best-scoring links lead to the deleted asset (0.99) and its scene (0.98): without a
    score floor they are still absent, and they take no place on a page."""
    g = graph
    assert g.poster_scene is not None
    document = """
    query($asset: ID!, $scene: ID!, $first: Int!) {
      asset(id: $asset) {
        similarAssets(first: $first) { edges { score node { id } } pageInfo { hasNextPage } }
      }
      scene(id: $scene) {
        similarScenes(first: $first) { edges { score node { id } } pageInfo { hasNextPage } }
      }
    }
    """
    ids = {"asset": gid("Asset", g.harbour.id), "scene": gid("Scene", g.scenes[0].id)}
    everything = await gql(document, {**ids, "first": 10})
    assert everything == {
        "data": {
            "asset": {
                "similarAssets": {
                    "edges": [
                        {"score": 0.97, "node": {"id": gid("Asset", g.poster.id)}},
                        {"score": 0.71, "node": {"id": gid("Asset", g.interview.id)}},
                    ],
                    "pageInfo": {"hasNextPage": False},
                }
            },
            "scene": {
                "similarScenes": {
                    "edges": [{"score": 0.83, "node": {"id": gid("Scene", g.poster_scene.id)}}],
                    "pageInfo": {"hasNextPage": False},
                }
            },
        }
    }
    # A one-row page is the best live neighbour, not an empty page in front of it.
    top = await gql(document, {**ids, "first": 1})
    assert top["data"]["asset"]["similarAssets"] == {
        "edges": [{"score": 0.97, "node": {"id": gid("Asset", g.poster.id)}}],
        "pageInfo": {"hasNextPage": True},
    }
    assert top["data"]["scene"]["similarScenes"] == everything["data"]["scene"]["similarScenes"]


async def test_scene_transcript_contains(gql: GraphQLClient, graph: Graph) -> None:
    document = """
    query($id: ID!, $phrase: String) {
      scene(id: $id) { transcript(contains: $phrase) { edges { node { text } } } }
    }
    """
    scene = gid("Scene", graph.scenes[0].id)
    gulls = await gql(document, {"id": scene, "phrase": "GULLS"})
    assert _nodes(gulls["data"]["scene"]["transcript"]) == [{"text": "Gulls follow them."}]
    # "noon" is said in the harbour asset, but not during this scene.
    noon = await gql(document, {"id": scene, "phrase": "noon"})
    assert noon == {"data": {"scene": {"transcript": {"edges": []}}}}
    # LIKE wildcards are matched literally.
    assert _nodes((await gql(document, {"id": scene, "phrase": "_"}))["data"]["scene"]["transcript"]) == []


async def test_query_audit_events(gql: GraphQLClient, graph: Graph) -> None:
    g = graph
    document = """
    query($first: Int!, $after: String) {
      auditEvents(first: $first, after: $after) {
        edges { node { id actor action entityType entityId details occurredAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
    """
    first = await gql(document, {"first": 1})
    update, cancel = g.audit[1], g.audit[0]
    assert first == {
        "data": {
            "auditEvents": {
                "edges": [
                    {
                        "node": {
                            "id": gid("AuditEvent", update.id),
                            "actor": "editor@example.org",
                            "action": "asset.update",
                            "entityType": "asset",
                            "entityId": gid("Asset", g.harbour.id),
                            "details": {"changed": ["tags"]},
                            "occurredAt": "2026-01-05T09:20:00+00:00",
                        }
                    }
                ],
                "pageInfo": {
                    "hasNextPage": True,
                    "endCursor": encode_cursor(AUDIT_ORDER, (update.occurred_at, update.id)),
                },
            }
        }
    }
    cursor = first["data"]["auditEvents"]["pageInfo"]["endCursor"]
    rest = await gql(document, {"first": 10, "after": cursor})
    assert rest["data"]["auditEvents"]["edges"] == [
        {
            "node": {
                "id": gid("AuditEvent", cancel.id),
                "actor": "editor@example.org",
                "action": "job.cancel",
                "entityType": "job",
                "entityId": gid("Job", g.jobs["harbour_cancelled"].id),
                "details": {"status": "cancelled"},
                "occurredAt": "2026-01-05T09:09:30+00:00",
            }
        }
    ]
    assert rest["data"]["auditEvents"]["pageInfo"]["hasNextPage"] is False
