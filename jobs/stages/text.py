"""The text stage: a document's text, chunked for search and embeddings.

Plain text, Markdown (rendered with CommonMark, then read as HTML), HTML (parsed, never
rendered: scripts, styles, iframes and other non-content elements are dropped) and PDF (the
text layer, page by page) become ``inference.text.chunk_text`` chunks of at most 800
characters overlapping by ~150, each a TranscriptSegment row with ``scene_id`` None.

Where a chunk is: a text asset has no timeline, so a chunk's ``start_s``/``end_s`` hold its
CHARACTER offsets [start, end) into the extracted text. That keeps chunks in document order
wherever segments are ordered by start (the API, search), and lets a reader scroll to the
passage; ``words`` is empty. The asset's language is identified from the extracted text
(``inference.language``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.assets import stage_repository
from app.jobs.errors import PermanentStageError
from app.jobs.pipeline import StageName
from app.media.probe import TEXT_ENCODING
from app.media.service import replace_segments
from inference.language import detect_language
from inference.text import DEFAULT_CHUNK_CHARS, DEFAULT_OVERLAP_CHARS, chunk_text, extract_text
from jobs.registry import StageContext, StageOutput, StageRegistry
from jobs.stages.common import permanent_errors

TEXT_MODEL = "mediakg-text-chunks"
# Extraction rules (x1) and chunk geometry: a change to either re-chunks every document.
TEXT_MODEL_VERSION = f"x1-c{DEFAULT_CHUNK_CHARS}-o{DEFAULT_OVERLAP_CHARS}"
PDF = "application/pdf"


def document_text(data: bytes, mime_type: str, encoding: str) -> str:
    """The text of a document's bytes (blocking).

    Non-PDF bytes are decoded with the encoding the probe found (UTF-8/16/32, BOM removed)
    and handed on as UTF-8, the one encoding the extractors read.
    """
    if mime_type != PDF:
        codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        data = data.decode(codec).encode("utf-8")
    return extract_text(data, mime_type or "text/plain")


def chunk_rows(text: str) -> list[dict[str, Any]]:
    """TranscriptSegment values of ``text``'s chunks (offsets in start_s/end_s)."""
    return [
        {
            "ordinal": chunk.index,
            "start_s": float(chunk.start),
            "end_s": float(chunk.end),
            "text": chunk.text,
            "words": [],
        }
        for chunk in chunk_text(text)
    ]


async def run_text(ctx: StageContext) -> StageOutput:
    """Extract and chunk the document; replace its chunks of the current text model."""
    await ctx.report_progress(0.0)
    data = await ctx.run_sync(ctx.blobs.read_bytes, ctx.asset.blob_key)
    encoding = str(ctx.asset.media_info.get("encoding") or "utf-8")
    with permanent_errors("extracting the text"):
        try:
            text = await ctx.run_sync(document_text, data, ctx.asset.mime_type, encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise PermanentStageError(
                TEXT_ENCODING, f"the text is not valid {encoding.upper()}: {exc}; re-save it as UTF-8"
            ) from exc
    await ctx.report_progress(0.7)
    rows = await ctx.run_sync(chunk_rows, text)
    language = await ctx.run_sync(detect_language, text)
    await ctx.report_progress(1.0)
    tenant_id, asset_id = ctx.asset.tenant_id, ctx.asset.id

    async def write(session: AsyncSession) -> None:
        await replace_segments(
            session,
            tenant_id=tenant_id,
            asset_id=asset_id,
            model_name=TEXT_MODEL,
            model_version=TEXT_MODEL_VERSION,
            segments=rows,
        )
        if language is not None:
            await stage_repository.set_language(session, asset_id=asset_id, language=language)

    return StageOutput(write=write, model_versions={TEXT_MODEL: TEXT_MODEL_VERSION})


def register_stages(registry: StageRegistry) -> None:
    """Register the text stage."""
    registry.register(StageName.TEXT, run_text, max_retries=2)
