"""The query documents of graphql/operations/ against a known graph: exact payloads."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.api.pagination import encode_cursor
from app.container import Services
from app.media import repository as repo
from app.tenancy.models import Tenant
from tests.api.conftest import GraphQLClient, operation
from tests.api.graph import Graph, build_graph, gid


@pytest.fixture
async def graph(services: Services, tenant: Tenant) -> Graph:
    return await build_graph(services.session_factory, tenant.id, services.blobs)


def _nodes(connection: dict[str, Any]) -> list[Any]:
    return [edge["node"] for edge in connection["edges"]]


async def test_asset_page(gql: GraphQLClient, graph: Graph) -> None:
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
                                "keyframeUrl": f"/blobs/{g.keyframe_key}" if s.ordinal == 0 else None,
                            }
                        }
                        for s in g.scenes
                    ],
                    "pageInfo": {
                        "hasNextPage": False,
                        "endCursor": encode_cursor(repo.SCENE_ORDER, (8.0, last.id)),
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
                        }
                    ]
                },
                # The 0.41 link is below minScore and leads to a deleted asset; the 0.71 one is
                # stored with the harbour as its target.
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
                "auditEvents": {"edges": []},
            }
        }
    }


async def test_scene_browser(gql: GraphQLClient, graph: Graph) -> None:
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
                "keyframeUrl": f"/blobs/{g.keyframe_key}",
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


async def test_job_monitor(gql: GraphQLClient, graph: Graph) -> None:
    g = graph
    body = await gql(operation("JobMonitor"), {"status": ["RUNNING", "FAILED"], "first": 10})
    jobs = _nodes(body["data"]["jobs"])
    keys = ("id", "status", "progress", "currentStage", "errorCode", "asset")
    summary = [tuple(j[k] for k in keys) for j in jobs]
    assert summary == [
        (gid("Job", g.jobs["poster"].id), "FAILED", 0.25, "ocr", "CORRUPT_MEDIA",
         {"id": gid("Asset", g.poster.id), "title": "Harbour poster"}),
        (gid("Job", g.jobs["interview"].id), "RUNNING", 0.5, "transcribe", None,
         {"id": gid("Asset", g.interview.id), "title": "Interview"}),
    ]  # fmt: skip
    stages = [(s["name"], s["status"], s["errorCode"]) for s in _nodes(jobs[0]["stages"])]
    assert stages == [
        ("probe", "SUCCEEDED", None),
        ("text", "SKIPPED", None),
        ("scenes", "SUCCEEDED", None),
        ("transcribe", "SKIPPED", None),
        ("ocr", "FAILED", "CORRUPT_MEDIA"),
        ("detect", "SUCCEEDED", None),
        ("embed", "PENDING", None),
        ("similarity", "PENDING", None),
        ("index", "PENDING", None),
    ]
    assert body["data"]["jobs"]["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": encode_cursor(repo.JOB_ORDER, (g.jobs["interview"].created_at, g.jobs["interview"].id)),
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
                    repo.asset_ordering("created_at", True), (g.harbour.created_at, g.harbour.id)
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
                repo.asset_ordering("created_at", True), (g.harbour.created_at, g.harbour.id)
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


async def test_node_resolves_every_type(gql: GraphQLClient, graph: Graph) -> None:
    g = graph
    assert g.poster_scene is not None
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
    ]  # fmt: skip
    for type_name, row_id, fragment, expected in cases:
        body = await gql(
            f"query($id: ID!) {{ node(id: $id) {{ __typename id {fragment} }} }}",
            {"id": gid(type_name, row_id)},
        )
        assert body == {"data": {"node": {"__typename": type_name, "id": gid(type_name, row_id), **expected}}}


async def test_deleted_assets_and_their_scenes_are_invisible(gql: GraphQLClient, graph: Graph) -> None:
    body = await gql("query($id: ID!) { asset(id: $id) { id } }", {"id": gid("Asset", graph.deleted.id)})
    assert body == {"data": {"asset": None}}


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
