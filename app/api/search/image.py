"""Query vectors of `searchByImage`: from an uploaded picture, or from an asset's stored vectors.

An upload is read with a size cap, decoded by ``inference.preprocess.load_image`` (which refuses
decompression bombs) off the event loop, and embedded through the process's inference router
with the models the live generation was built for: MobileNetV2 features for the ``visual``
field, the ImageNet bridge for ``bridge`` and CLIP's image tower for ``clip`` (when this
process has the CLIP directory the generation was built with). A field whose generation holds
another model's vectors is left out (never compared across embedding spaces).

An asset's query vectors are the ones the embed stage stored for the asset itself (for an image
its keyframe, for a video the duration-weighted mean of its keyframes): nothing is recomputed.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from app.api.context import Info
from app.core.errors import EmptyFileError, FileTooLargeError, InvalidStateError, UnsupportedMediaError
from app.media import repository as repo
from app.media.service import vector_from_bytes
from inference.errors import MediaError, ModelNotConfiguredError
from inference.preprocess import RGBImage, load_image
from search.backend import GenerationInfo
from search.documents import FIELD_MODALITY, FIELD_TASK, StoredFields, VectorField, model_key
from search.query import Filters, QueryVector

# A query picture is a photo or a frame grab, not an archive: 20 MiB holds any camera JPEG and
# a 4K PNG screenshot. The decoded size is bounded separately (load_image's pixel limit).
MAX_QUERY_IMAGE_BYTES = 20 * 1024 * 1024
# The image vector fields, in the order their query vectors are listed. The router task that
# fills each (search.documents.FIELD_TASK) embeds an uploaded picture for it; its modality
# (FIELD_MODALITY: CLIP image vectors are bridge rows of the CLIP model) finds an asset's own.
IMAGE_FIELDS = (VectorField.VISUAL, VectorField.BRIDGE, VectorField.CLIP)


def image_fields(live: GenerationInfo) -> list[VectorField]:
    """The image vector fields the live generation has."""
    return [f for f in IMAGE_FIELDS if f in live.spec.vectors]


async def read_upload(upload: Any) -> bytes:
    """The bytes of an uploaded picture (a starlette UploadFile), at most MAX_QUERY_IMAGE_BYTES."""
    data: bytes = await upload.read(MAX_QUERY_IMAGE_BYTES + 1)
    if not data:
        raise EmptyFileError("the uploaded image is empty", field=["image"])
    if len(data) > MAX_QUERY_IMAGE_BYTES:
        raise FileTooLargeError(
            f"a query image may have at most {MAX_QUERY_IMAGE_BYTES} bytes", field=["image"]
        )
    return data


async def decode_upload(data: bytes) -> RGBImage:
    """The picture as RGB pixels; UNSUPPORTED_MEDIA for anything that is not a sane image."""
    try:
        return await asyncio.to_thread(load_image, data)
    except MediaError as exc:
        raise UnsupportedMediaError(str(exc), field=["image"]) from exc


async def field_vector(
    router: Any,
    live: GenerationInfo,
    vector_field: VectorField,
    embed: Callable[[], Awaitable[Any]],
    *,
    query_task: str | None = None,
) -> QueryVector | None:
    """The query vector ``embed()`` computes for ``vector_field`` of ``live``; None, and no model
    call, when the generation has no such field, holds the vectors of another model than the one
    this process serves for it (FIELD_TASK; none configured: CLIP vectors in the index, no CLIP
    directory here), or when ``query_task``'s model (CLIP's text tower) is not of that model's
    version. An embedding of other dimensions than the field's is left out too."""
    wanted = live.spec.vectors.get(vector_field)
    if wanted is None:
        return None
    try:
        spec = router.model_for(FIELD_TASK[vector_field])
        query_spec = spec if query_task is None else router.model_for(query_task)
    except ModelNotConfiguredError:
        return None
    if wanted.model_version != model_key(spec.name, spec.version) or query_spec.version != spec.version:
        return None
    result = await embed()
    values = result.vectors[0]
    if len(values) != wanted.dims:
        return None
    return QueryVector.of(vector_field, values, wanted.model_version)


async def upload_vectors(info: Info, image: RGBImage, live: GenerationInfo) -> tuple[QueryVector, ...]:
    """Embeddings of ``image`` for every image field of ``live`` this process's models fill
    (none, and no model call, when the generation holds other models' vectors)."""
    router: Any = await info.context.services.inference_router()
    embedders = {
        VectorField.VISUAL: router.embed_image,
        VectorField.BRIDGE: router.embed_bridge,
        VectorField.CLIP: router.embed_image_clip,
    }
    vectors: list[QueryVector] = []
    for vector_field in image_fields(live):
        embed = functools.partial(embedders[vector_field], [image])
        vector = await field_vector(router, live, vector_field, embed)
        if vector is not None:
            vectors.append(vector)
    return tuple(vectors)


async def asset_vectors(info: Info, asset_id: uuid.UUID, live: GenerationInfo) -> tuple[QueryVector, ...]:
    """The asset's own stored image vectors of the live generation's models (no model call)."""
    ctx = info.context
    fields = image_fields(live)
    async with ctx.read_session_factory() as session:
        rows = await repo.asset_embeddings(
            session,
            tenant_id=ctx.caller.tenant_id,
            asset_id=asset_id,
            modalities=sorted({FIELD_MODALITY[f] for f in fields}),
        )
    stored = StoredFields({f: live.spec.vectors[f] for f in fields})
    vectors: dict[VectorField, QueryVector] = {}
    for row in rows:
        # The field whose model wrote this row (bridge rows: the ImageNet bridge's or CLIP's).
        vector_field = stored.field_of(row.modality, row.model_name, row.model_version, row.dimension)
        if vector_field is not None:
            vectors[vector_field] = QueryVector.of(
                vector_field, vector_from_bytes(row.vector), live.spec.vectors[vector_field].model_version
            )
    if not vectors:
        raise InvalidStateError(
            "the asset has no image vectors of the live index's models: it is not a picture or a "
            "video, or its analysis has not finished",
            field=["assetId"],
        )
    return tuple(vectors[f] for f in fields if f in vectors)


def image_fingerprint(source: str, filters: Filters, scope: str) -> str:
    """What a cursor of one image search is tied to: the picture (its sha256) or the asset id,
    the filters and the scope."""
    raw = json.dumps([source, scope, repr(filters)], default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def upload_source(data: bytes) -> str:
    """The fingerprint source of an uploaded picture: the same bytes page through one result list."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
