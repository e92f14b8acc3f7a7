"""Document text extraction and overlapping chunking."""

from __future__ import annotations

import itertools

import pytest

from inference.errors import TextExtractionError
from inference.text import chunk_text, extract_text, html_to_text, markdown_to_text, pdf_to_text
from tests.fixtures.media import make_pdf

PROSE = " ".join(
    f"Sentence number {i} talks about topic {i % 7} and carries a little more text to fill space."
    for i in range(60)
)


def test_chunks_cover_the_text_overlap_and_respect_the_limit() -> None:
    chunks = chunk_text(PROSE, max_chars=300, overlap=60)
    assert len(chunks) > 5
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text == PROSE[chunk.start : chunk.end]
        assert 0 < len(chunk.text) <= 300
        assert not chunk.text[0].isspace()
        assert not chunk.text[-1].isspace()
    assert chunks[0].start == 0
    assert chunks[-1].end == len(PROSE)
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end, "consecutive chunks overlap"
        assert a.end - b.start <= 60 + 20
        assert b.start > a.start
        assert PROSE[b.start - 1] == " ", "chunks start on a word"
    # Ends prefer sentence breaks.
    assert sum(c.text.endswith(".") for c in chunks[:-1]) >= len(chunks) // 2


def test_every_word_is_in_some_chunk() -> None:
    chunks = chunk_text(PROSE, max_chars=120, overlap=30)
    covered: set[int] = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(PROSE) if not ch.isspace())


def test_a_word_longer_than_a_chunk_is_cut_rather_than_lost() -> None:
    text = "x" * 50 + " tail"
    chunks = chunk_text(text, max_chars=20, overlap=5)
    assert "".join(c.text for c in chunks).replace("tail", "").count("x") >= 50
    assert chunks[-1].text.endswith("tail")


def test_short_and_empty_text() -> None:
    assert chunk_text("") == []
    assert chunk_text("   ") == []
    (only,) = chunk_text("  hello world  ")
    assert (only.text, only.start, only.end) == ("hello world", 2, 13)
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("abc", max_chars=10, overlap=10)


def test_html_drops_scripts_styles_and_keeps_blocks_apart() -> None:
    html = """<!doctype html><html><head><title>T</title><style>p{color:red}</style>
    <script>alert('x')</script></head><body><h1>Launch <b>day</b></h1>
    <p>The rocket&nbsp;lifted off.</p><noscript>enable js</noscript>
    <ul><li>one</li><li>two</li></ul><script>document.write('hidden')</script>
    <template><p>never shown</p></template></body></html>"""
    text = html_to_text(html)
    assert text == "Launch day\nThe rocket lifted off.\none\ntwo"


def test_markdown_renders_to_plain_text_without_raw_scripts() -> None:
    markdown = (
        "# Title\n\nSome *emphasis* and `code`.\n\n<script>steal()</script>\n\n- item one\n- item two\n"
    )
    assert markdown_to_text(markdown) == "Title\nSome emphasis and code.\nitem one\nitem two"


def test_pdf_text_layer_is_read_page_by_page() -> None:
    data = make_pdf([["Quarterly report", "Revenue (net) grew"], ["Second page text"]])
    assert pdf_to_text(data) == "Quarterly report\nRevenue (net) grew\n\nSecond page text"
    assert extract_text(data, "application/pdf") == pdf_to_text(data)


def test_broken_and_oversized_pdfs_fail_clearly() -> None:
    with pytest.raises(TextExtractionError):
        pdf_to_text(b"%PDF-1.4 this is not really a pdf")
    with pytest.raises(TextExtractionError, match="limit"):
        pdf_to_text(make_pdf([["a"], ["b"], ["c"]]), max_pages=2)


def test_extract_text_dispatches_on_media_type() -> None:
    assert extract_text(b"plain  text\n\n\n\nnext", "text/plain; charset=utf-8") == "plain text\n\nnext"
    assert extract_text(b"<p>a</p><p>b</p>", "text/html") == "a\nb"
    assert extract_text(b"**bold**", "text/markdown") == "bold"
    with pytest.raises(TextExtractionError, match="image/png"):
        extract_text(b"\x89PNG", "image/png")
