"""`searchByImage` through graphql/operations/SearchByImage.graphql: real MobileNetV2 and bridge
vectors of scikit-image's photos, stored as the embed stage stores them, indexed in the real
embedded backend; queries by multipart upload and by asset id; soft deletes, paging, statement
counts and every error a caller can cause."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from sqlalchemy import update

from app.assets.models import Asset
from app.core.container import Services
from app.core.db import session_scope
from app.core.enums import AssetKind, AssetStatus, Modality, OwnerType
from app.core.settings import Settings
from app.media.models import Embedding, Scene
from app.media.service import vector_to_bytes
from app.tenancy.models import Tenant
from inference.cache import EmbeddingCache
from inference.config import InferenceConfig
from inference.local import ModelPool
from inference.router import InferenceRouter
from jobs.indexing import generation_spec, sync_assets
from search.backend import GenerationSpec, SearchBackend
from tests.api.conftest import GraphQLClient, operation
from tests.api.graph import gid
from tests.fixtures.media import image_bytes, photo
from tests.search.indexgraph import SPEC as OTHER_MODELS_SPEC

pytestmark = [pytest.mark.models]

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
RRF = 60
# The default RRF weights (settings.search_rrf_weights) of the two image retrievers.
W_VISUAL, W_BRIDGE = 1.0, 0.5

# Models load once per session; each test gets its own router (its own threads and batcher)
# on this pool, and the shared cache keeps the bridge's 1000 label-name vectors.
_POOLS: dict[str, ModelPool] = {}
_CACHE = EmbeddingCache()


def _router(settings: Settings) -> InferenceRouter:
    config = InferenceConfig.from_settings(settings)
    pool = _POOLS.setdefault(repr(config.local_options()), ModelPool(config.local_options()))
    return InferenceRouter(config, pool=pool, cache=_CACHE)


def _half_size_jpeg(image: npt.NDArray[np.uint8], quality: int) -> npt.NDArray[np.uint8]:
    pil = Image.fromarray(image)
    small = pil.resize((pil.width // 2, pil.height // 2), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=quality)
    with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.uint8)


@dataclass
class Pictures:
    """The indexed assets by name, the text asset (no image vectors) and the scenes."""

    assets: dict[str, Asset] = field(default_factory=dict)
    scenes: dict[str, Scene] = field(default_factory=dict)


@pytest.fixture
async def router(services: Services, settings: Settings) -> InferenceRouter:
    # The API resolves the process's router through services.inference_router(): this one (closed
    # with the services).
    services.inference = _router(settings)
    router: InferenceRouter = await services.inference_router()
    return router


async def _insert(
    services: Services, tenant: Tenant, router: InferenceRouter, images: dict[str, npt.NDArray[np.uint8]]
) -> Pictures:
    names = list(images)
    visual = await router.embed_image([images[n] for n in names])
    bridge = await router.embed_bridge([images[n] for n in names])
    pictures = Pictures()
    rows: list[Any] = []
    for i, name in enumerate(names):
        asset = Asset(
            tenant_id=tenant.id,
            kind=AssetKind.IMAGE,
            status=AssetStatus.READY,
            title=name,
            blob_key=f"sha256/{name}",
            content_sha256=f"{i + 1:064x}",
            mime_type="image/png",
            size_bytes=1000,
            created_at=T0 + timedelta(minutes=i),
            updated_at=T0 + timedelta(minutes=i),
        )
        scene = Scene(
            id=uuid.uuid4(),
            tenant_id=tenant.id,
            asset_id=asset.id,
            ordinal=0,
            start_s=0.0,
            end_s=0.0,
            model_name="single-frame",
            model_version="1",
        )
        pictures.assets[name], pictures.scenes[name] = asset, scene
        for result, modality in ((visual, Modality.IMAGE), (bridge, Modality.BRIDGE)):
            # As the embed stage stores them: the keyframe's vector for the scene and, for an
            # image, the same vector for the asset.
            for owner_type, owner_id in ((OwnerType.SCENE, scene.id), (OwnerType.ASSET, asset.id)):
                rows.append(
                    Embedding(
                        tenant_id=tenant.id,
                        asset_id=asset.id,
                        owner_type=owner_type,
                        owner_id=owner_id,
                        modality=modality,
                        model_name=result.model.name,
                        model_version=result.model.version,
                        dimension=int(result.vectors.shape[1]),
                        vector=vector_to_bytes(result.vectors[i]),
                    )
                )
    notes = Asset(
        tenant_id=tenant.id,
        kind=AssetKind.TEXT,
        status=AssetStatus.READY,
        title="notes",
        blob_key="sha256/notes",
        content_sha256=f"{99:064x}",
        mime_type="text/plain",
        size_bytes=10,
        created_at=T0,
        updated_at=T0,
    )
    pictures.assets["notes"] = notes
    async with session_scope(services.session_factory) as session:
        session.add_all(pictures.assets.values())
        await session.flush()
        session.add_all(pictures.scenes.values())
        await session.flush()
        session.add_all(rows)
    return pictures


@pytest.fixture
async def pictures(services: Services, tenant: Tenant, router: InferenceRouter) -> Pictures:
    chelsea, rocket = photo("chelsea"), photo("rocket")
    images = {
        "cat": chelsea,
        "cat copy": _half_size_jpeg(chelsea, 50),
        "coffee": photo("coffee"),
        "rocket": rocket,
        "rocket copy (deleted)": _half_size_jpeg(rocket, 50),
    }
    pics = await _insert(services, tenant, router, images)
    backend: SearchBackend = services.search
    await backend.create_generation(generation_spec(router, "g1"))
    report = await sync_assets(services.session_factory, backend, [a.id for a in pics.assets.values()])
    assert report.ok
    # Deleted after indexing, with no sync message: still in the index, never in a result.
    async with session_scope(services.session_factory) as session:
        await session.execute(
            update(Asset).where(Asset.id == pics.assets["rocket copy (deleted)"].id).values(deleted_at=T0)
        )
    return pics


async def _by_upload(http: httpx.AsyncClient, data: bytes, **variables: Any) -> dict[str, Any]:
    operations = {"query": operation("SearchByImage"), "variables": {"image": None, **variables}}
    response = await http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.image"]})},
        files={"0": ("query.jpg", data, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _titles(body: dict[str, Any]) -> list[str]:
    return [e["node"]["asset"]["title"] for e in body["data"]["searchByImage"]["edges"]]


def _error(body: dict[str, Any]) -> tuple[str, list[str] | None, str]:
    (error,) = body["errors"]
    return error["extensions"]["code"], error["extensions"].get("field"), error["message"]


def _hit(pics: Pictures, name: str, visual: int, bridge: int, cursor: str) -> dict[str, Any]:
    return {
        "cursor": cursor,
        "node": {
            "kind": "MOMENT",
            "score": W_VISUAL / (RRF + visual) + W_BRIDGE / (RRF + bridge),
            "startSeconds": 0.0,
            "endSeconds": 0.0,
            "ranks": [
                {"retriever": r, "rank": n}
                for n, r in sorted([(visual, "VECTOR_VISUAL"), (bridge, "VECTOR_BRIDGE")])
            ],
            "asset": {"id": gid("Asset", pics.assets[name].id), "title": name, "kind": "IMAGE"},
            "scene": {"id": gid("Scene", pics.scenes[name].id), "thumbnailUrl": None},
        },
    }


async def test_an_uploaded_copy_finds_its_original_first(
    http: httpx.AsyncClient, pictures: Pictures, count_sql: Any
) -> None:
    # Another copy of the cat than any indexed: resized, recompressed at another quality.
    query = image_bytes(_half_size_jpeg(photo("chelsea"), 70), format="JPEG", quality=60)
    await _by_upload(http, query, first=1)  # the caller is resolved once per process
    with count_sql() as counter:
        body = await _by_upload(http, query, first=2)
    search = body["data"]["searchByImage"]
    edges = search["edges"]
    assert body == {
        "data": {
            "searchByImage": {
                # Five indexed moments, one of a deleted asset (still in the index).
                "totalCount": 5,
                "retrievers": ["VECTOR_VISUAL", "VECTOR_BRIDGE"],
                "edges": [
                    # The copy looks nearest; the bridge (ImageNet labels) puts the original's label
                    # mix first: the visual retriever weighs twice the bridge, so the copy leads.
                    _hit(pictures, "cat copy", 1, 2, edges[0]["cursor"]),
                    _hit(pictures, "cat", 2, 1, edges[1]["cursor"]),
                ],
                "pageInfo": {"hasNextPage": True, "endCursor": edges[1]["cursor"]},
            }
        }
    }
    # The recent deletions to exclude, one batch of assets and one of scenes, and the assets an
    # editor marked duplicates (hidden unless includeDuplicates): the picture is embedded, not
    # looked up.
    assert counter.count == 4


async def test_a_deleted_copy_never_appears(http: httpx.AsyncClient, pictures: Pictures) -> None:
    # A rocket copy: the deleted rocket copy is at least as close as the original, and dropped.
    query = image_bytes(_half_size_jpeg(photo("rocket"), 70), format="JPEG", quality=60)
    body = await _by_upload(http, query, first=5)
    titles = _titles(body)
    assert titles[0] == "rocket"
    assert sorted(titles) == ["cat", "cat copy", "coffee", "rocket"]


async def test_an_asset_finds_what_looks_like_it_without_itself(
    gql: GraphQLClient, pictures: Pictures, count_sql: Any
) -> None:
    cat = gid("Asset", pictures.assets["cat"].id)
    await gql(operation("SearchByImage"), {"assetId": cat, "first": 1})
    with count_sql() as counter:
        body = await gql(operation("SearchByImage"), {"assetId": cat, "scope": "ASSET", "first": 1})
    (edge,) = body["data"]["searchByImage"]["edges"]
    copy = pictures.assets["cat copy"]
    assert edge["node"] == {
        "kind": "ASSET",
        "score": W_VISUAL / (RRF + 1) + W_BRIDGE / (RRF + 1),
        "startSeconds": None,
        "endSeconds": None,
        "ranks": [{"retriever": "VECTOR_BRIDGE", "rank": 1}, {"retriever": "VECTOR_VISUAL", "rank": 1}],
        "asset": {"id": gid("Asset", copy.id), "title": "cat copy", "kind": "IMAGE"},
        "scene": None,
    }
    # The query asset, its stored vectors, the recent deletions and the marked duplicates to
    # exclude, then the page's assets (asset hits have no scenes: the scene batch is empty and
    # not sent).
    assert counter.count == 5


async def test_pages_and_cursors_belong_to_one_picture(gql: GraphQLClient, pictures: Pictures) -> None:
    cat = gid("Asset", pictures.assets["cat"].id)
    titles: list[str] = []
    after = None
    for _ in range(5):
        page = await gql(operation("SearchByImage"), {"assetId": cat, "first": 1, "after": after})
        titles += _titles(page)
        info = page["data"]["searchByImage"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    # Page by page: every other live picture once (the cat itself excluded, the deleted copy
    # leaving its page empty), the copy first.
    assert titles[0] == "cat copy"
    assert sorted(titles) == ["cat copy", "coffee", "rocket"]
    coffee = gid("Asset", pictures.assets["coffee"].id)
    other = await gql(operation("SearchByImage"), {"assetId": coffee, "after": after})
    assert _error(other) == ("INVALID_CURSOR", ["after"], "the cursor was not issued by this search")


async def test_filters_apply(gql: GraphQLClient, pictures: Pictures) -> None:
    cat = gid("Asset", pictures.assets["cat"].id)
    rocket = gid("Asset", pictures.assets["rocket"].id)
    body = await gql(operation("SearchByImage"), {"assetId": cat, "filter": {"assetIds": [rocket]}})
    assert _titles(body) == ["rocket"]


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, ("INVALID_INPUT", ["image"], "give exactly one of image or assetId")),
        ({"assetId": "not-an-id"}, ("MALFORMED_ID", ["assetId"], "'not-an-id' is not a valid ID")),
        (
            {"assetId": gid("Scene", uuid.UUID(int=1))},
            ("WRONG_ID_TYPE", ["assetId"], "expected an ID of Asset, got an ID of Scene"),
        ),
        ({"assetId": gid("Asset", uuid.UUID(int=1))}, ("NOT_FOUND", ["assetId"], "no such asset")),
        (
            {"assetId": gid("Asset", uuid.UUID(int=1)), "first": 101},
            ("PAGE_SIZE_EXCEEDED", ["first"], "`first` must be between 0 and 100, got 101"),
        ),
        (
            {"assetId": gid("Asset", uuid.UUID(int=1)), "after": "bm90IGEgY3Vyc29y"},
            ("INVALID_CURSOR", ["after"], "the cursor was not issued by this search"),
        ),
    ],
)
async def test_bad_arguments_get_a_typed_error(
    gql: GraphQLClient, pictures: Pictures, variables: dict[str, Any], expected: tuple[str, list[str], str]
) -> None:
    body = await gql(operation("SearchByImage"), variables)
    assert body["data"] is None
    assert _error(body) == expected


async def test_deleted_assets_and_assets_without_pictures_are_refused(
    gql: GraphQLClient, pictures: Pictures
) -> None:
    deleted = gid("Asset", pictures.assets["rocket copy (deleted)"].id)
    body = await gql(operation("SearchByImage"), {"assetId": deleted})
    assert _error(body) == ("NOT_FOUND", ["assetId"], "no such asset")
    notes = gid("Asset", pictures.assets["notes"].id)
    body = await gql(operation("SearchByImage"), {"assetId": notes})
    assert _error(body) == (
        "INVALID_STATE",
        ["assetId"],
        "the asset has no image vectors of the live index's models: it is not a picture or a video, "
        "or its analysis has not finished",
    )


def _bomb() -> bytes:
    # 10 000 x 10 000 one-bit pixels compress to a few kilobytes and would decode to 100
    # megapixels: past Pillow's decompression-bomb limit.
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", ("EMPTY_FILE", ["image"], "the uploaded image is empty")),
        (b"%PDF-1.4 not a picture", ("UNSUPPORTED_MEDIA", ["image"], None)),
        (_bomb(), ("UNSUPPORTED_MEDIA", ["image"], None)),
        (
            b"\xff" * (20 * 1024 * 1024 + 1),
            ("FILE_TOO_LARGE", ["image"], "a query image may have at most 20971520 bytes"),
        ),
    ],
    ids=["empty", "not-an-image", "decompression-bomb", "too-large"],
)
async def test_bad_uploads_get_a_typed_error(
    http: httpx.AsyncClient, pictures: Pictures, data: bytes, expected: tuple[str, list[str], str | None]
) -> None:
    body = await _by_upload(http, data)
    assert body["data"] is None
    code, path, message = _error(body)
    assert (code, path) == expected[:2]
    if expected[2] is not None:
        assert message == expected[2]
    else:
        assert message.startswith("cannot decode image") or "exceeds the limit" in message, message


async def test_upload_and_asset_together_are_refused(http: httpx.AsyncClient, pictures: Pictures) -> None:
    cat = gid("Asset", pictures.assets["cat"].id)
    body = await _by_upload(http, image_bytes(photo("coffee")), assetId=cat)
    assert _error(body) == ("INVALID_INPUT", ["assetId"], "give exactly one of image or assetId")


async def test_nothing_indexed_yet_is_search_unavailable(
    http: httpx.AsyncClient, tenant: Tenant, router: InferenceRouter
) -> None:
    body = await _by_upload(http, image_bytes(photo("coffee")))
    assert _error(body) == (
        "SEARCH_UNAVAILABLE",
        None,
        "nothing is indexed yet: no search generation is live",
    )


async def test_an_index_of_other_image_models_is_search_unavailable(
    http: httpx.AsyncClient, services: Services, tenant: Tenant, router: InferenceRouter
) -> None:
    # The live generation holds the made-up vis-m:1 vectors; this server embeds with MobileNetV2.
    await services.search.create_generation(OTHER_MODELS_SPEC)
    body = await _by_upload(http, image_bytes(photo("coffee")))
    code, path, message = _error(body)
    assert (code, path) == ("SEARCH_UNAVAILABLE", None)
    assert message.startswith("the live index g1 holds image vectors of other models")
    # A generation without any image field cannot answer at all.
    text_only = GenerationSpec(
        name="g2", vectors={k: v for k, v in OTHER_MODELS_SPEC.vectors.items() if k.value == "text"}
    )
    await services.search.create_generation(text_only)
    await services.search.activate_generation("g2")
    body = await _by_upload(http, image_bytes(photo("coffee")))
    assert _error(body) == ("SEARCH_UNAVAILABLE", None, "the live index g2 holds no image vectors")
