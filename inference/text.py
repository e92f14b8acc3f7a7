"""Text extraction from documents (plain, Markdown, HTML, PDF) and overlapping chunking.

Extraction is safe by construction: HTML is parsed (never rendered or executed), scripts,
styles and other non-content elements are dropped, and PDFs are read page by page with a page
limit. Chunks overlap so a phrase cut at a chunk edge is still whole in one of them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from inference.errors import TextExtractionError

# Elements whose content is never visible text.
_DROP = "script, style, noscript, template, svg, math, iframe, object, embed, head, canvas"
# Elements that end a line of text; inline elements (b, a, span ...) join their neighbours.
_BLOCK = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul", "title",
    "caption", "summary", "details",
}  # fmt: skip
MAX_PDF_PAGES = 2000


def _normalise(text: str) -> str:
    lines = [re.sub(r"[ \t\f\v\u00a0]+", " ", line).strip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def html_to_text(html: str) -> str:
    """Visible text of an HTML document, one block element per line."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    for node in tree.css(_DROP):
        node.decompose()
    root = tree.body or tree.root
    if root is None:
        return ""
    parts: list[str] = []
    for node in root.traverse(include_text=True):
        if node.is_text_node:
            # HTML collapses whitespace runs (source indentation, newlines) to one space; only
            # block elements break lines. <pre> keeps its lines.
            text = node.text_content or ""
            parent = node.parent
            parts.append(text if parent is not None and parent.tag == "pre" else re.sub(r"\s+", " ", text))
        elif node.tag in _BLOCK:
            parts.append("\n")
    return "\n".join(line for line in _normalise("".join(parts)).splitlines() if line)


def markdown_to_text(markdown: str) -> str:
    """Text of a Markdown document (rendered with CommonMark, then extracted like HTML)."""
    from markdown_it import MarkdownIt

    # Raw HTML inside Markdown is allowed through to the HTML extractor, which drops scripts
    # and styles like any other HTML.
    html = MarkdownIt("commonmark", {"html": True}).render(markdown)
    return html_to_text(html)


def pdf_to_text(data: bytes, *, max_pages: int = MAX_PDF_PAGES) -> str:
    """Text layer of a PDF, pages separated by blank lines. Scanned pages without text give ''."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise TextExtractionError("the PDF is encrypted")
        if len(reader.pages) > max_pages:
            raise TextExtractionError(f"the PDF has {len(reader.pages)} pages; the limit is {max_pages}")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise TextExtractionError(f"cannot read the PDF: {exc}") from exc
    return "\n\n".join(_normalise(page) for page in pages if page.strip())


def extract_text(data: bytes, media_type: str) -> str:
    """Text of a document by media type: text/plain, text/markdown, text/html, application/pdf."""
    kind = media_type.split(";")[0].strip().lower()
    if kind == "application/pdf":
        return pdf_to_text(data)
    text = data.decode("utf-8", errors="replace")
    if kind in ("text/html", "application/xhtml+xml"):
        return html_to_text(text)
    if kind in ("text/markdown", "text/x-markdown"):
        return markdown_to_text(text)
    if kind.startswith("text/"):
        return _normalise(text)
    raise TextExtractionError(f"no text extractor for {media_type}")


@dataclass(frozen=True, slots=True)
class TextChunk:
    """``text == source[start:end]`` for the text that was chunked."""

    index: int
    start: int
    end: int
    text: str


# ~800 characters is ~180-220 MiniLM word pieces for English prose, under its 256-token limit
# so nothing is silently truncated; 150 characters of overlap carries a sentence across edges.
DEFAULT_CHUNK_CHARS = 800
DEFAULT_OVERLAP_CHARS = 150
_BREAKS = ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ")


def chunk_text(
    text: str, *, max_chars: int = DEFAULT_CHUNK_CHARS, overlap: int = DEFAULT_OVERLAP_CHARS
) -> list[TextChunk]:
    """Split ``text`` into chunks of at most ``max_chars``, consecutive chunks sharing ~``overlap``.

    Chunk ends prefer paragraph, line, sentence, clause and word breaks, in that order, within
    the last half of the window; a chunk starts on a word boundary inside the overlap.
    """
    if max_chars < 1 or not 0 <= overlap < max_chars:
        raise ValueError("need max_chars >= 1 and 0 <= overlap < max_chars")
    chunks: list[TextChunk] = []
    start = _skip_space(text, 0)
    while start < len(text):
        end = min(len(text), start + max_chars)
        if end < len(text):
            end = _break_before(text, start, end)
        piece_end = end
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        chunks.append(TextChunk(len(chunks), start, piece_end, text[start:piece_end]))
        if end >= len(text):
            break
        next_start = max(end - overlap, start + 1)
        # Start the next chunk at a word start, never mid-word.
        while 0 < next_start < end and not text[next_start - 1].isspace():
            next_start += 1
        start = _skip_space(text, next_start if next_start < end else end)
    return chunks


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _break_before(text: str, start: int, end: int) -> int:
    floor = start + (end - start) // 2
    for mark in _BREAKS:
        found = text.rfind(mark, floor, end)
        if found != -1:
            return found + len(mark)
    return end
