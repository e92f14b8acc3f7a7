"""Text assets: Markdown, HTML (scripts never reach the text) and PDF chunked with offsets,
embedded, and linked to documents that mean the same."""

from __future__ import annotations

import itertools

import pytest

from app.core.enums import Modality, OwnerType, SimilarityKind
from app.jobs.errors import PermanentStageError
from app.media.models import Embedding, SimilarityEdge, TranscriptSegment
from app.media.probe import TEXT_ENCODING
from inference.text import extract_text
from jobs.stages.text import TEXT_MODEL
from tests.fixtures.media import make_pdf
from tests.jobs.stages.conftest import TEXT_CHAIN, Harness

CAT_SENTENCES = [
    "The cat sleeps on the warm windowsill every afternoon.",
    "Kittens chase balls of yarn around the living room.",
    "A purring cat curls up beside its owner on the sofa.",
]
MARKDOWN = "# Cats at home\n\n" + "\n\n".join(
    f"## Part {i}\n\n" + " ".join(CAT_SENTENCES[(i + j) % 3] for j in range(6)) for i in range(6)
)
HTML = (
    "<html><head><title>Pets</title><style>body { color: red }</style></head><body>"
    "<h1>Our cat at home</h1><p>Our cat sleeps in the sun on the windowsill and purrs on the sofa.</p>"
    "<script>document.write('stolen cookie'); alert('owned')</script>"
    "<p>The kittens chase yarn <b>every</b> evening.</p></body></html>"
)
PDF_PAGES = [
    ["Interest rates were raised by the central bank.", "Inflation slowed in the spring."],
    ["Bond yields rose after the announcement."],
]


async def segments_of(harness: Harness, asset_id: object) -> list[TranscriptSegment]:
    rows = await harness.rows(TranscriptSegment, TranscriptSegment.asset_id == asset_id)
    return sorted(rows, key=lambda s: s.ordinal)


@pytest.mark.models
async def test_markdown_html_and_pdf_are_chunked_embedded_and_linked(harness: Harness) -> None:
    md = await harness.ingest("cats.md", MARKDOWN.encode(), title="Cats at home")
    html = await harness.ingest("care.html", HTML.encode(), title="Our cat")
    pdf = await harness.ingest("rates.pdf", make_pdf(PDF_PAGES), title="Rates")
    for asset_id in (md, html, pdf):
        await harness.chain(asset_id, TEXT_CHAIN)

    # Markdown: several overlapping chunks whose offsets locate them in the extracted text.
    extracted = extract_text(MARKDOWN.encode(), "text/markdown")
    chunks = await segments_of(harness, md)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert chunk.text == extracted[int(chunk.start_s) : int(chunk.end_s)]
        assert len(chunk.text) <= 800
        assert (chunk.scene_id, chunk.words, chunk.model_name) == (None, [], TEXT_MODEL)
    assert [c.start_s for c in chunks] == sorted(c.start_s for c in chunks)
    assert all(b.start_s < a.end_s for a, b in itertools.pairwise(chunks))  # overlap
    assert "#" not in " ".join(c.text for c in chunks)

    # HTML: the visible text only.
    [page] = await segments_of(harness, html)
    assert "Our cat at home" in page.text
    assert "The kittens chase yarn every evening." in page.text
    for hidden in ("stolen", "alert", "color: red", "<"):
        assert hidden not in page.text

    # PDF: the text layer of both pages.
    pdf_text = " ".join(s.text for s in await segments_of(harness, pdf))
    assert "central bank" in pdf_text
    assert "Bond yields rose" in pdf_text

    # Embeddings: every chunk and the title, in MiniLM's 384 dimensions.
    vectors = await harness.rows(Embedding, Embedding.asset_id == md)
    assert sorted((v.owner_type.value, v.modality.value, v.dimension) for v in vectors) == sorted(
        [("asset", "text", 384)] + [("segment", "text", 384)] * len(chunks)
    )

    # The two cat documents mean alike; the bank statement means something else.
    semantic = await harness.rows(SimilarityEdge, SimilarityEdge.kind == SimilarityKind.SEMANTIC)
    pairs = {frozenset((e.source_id, e.target_id)): e for e in semantic}
    assert set(pairs) == {frozenset((md, html))}
    assert pairs[frozenset((md, html))].source_type == OwnerType.ASSET
    assert not await harness.count(Embedding, Embedding.modality != Modality.TEXT)


async def test_text_in_a_wrong_encoding_fails_permanently(harness: Harness) -> None:
    asset_id = await harness.ingest("notes.txt", b"plain words")
    await harness.run("probe", asset_id)
    # The bytes change under the asset (as if the blob were rewritten): not UTF-8 any more.
    asset = await harness.asset(asset_id)
    path = harness.services.blobs.local_path(asset.blob_key)
    path.write_bytes(b"caf\xe9 cr\xe8me")
    with pytest.raises(PermanentStageError) as failure:
        await harness.run("text", asset_id)
    assert failure.value.code == TEXT_ENCODING
