"""Deciding what kind of media some bytes are, from their content first and their name second."""

from __future__ import annotations

import mimetypes

import filetype

from app.core.enums import AssetKind
from app.core.errors import UnsupportedMediaError

# Text formats have no magic number: they are recognised by name, then checked to decode.
_TEXT_MIME_BY_SUFFIX = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
}


def detect_kind(header: bytes, filename: str) -> tuple[AssetKind, str]:
    """The asset kind and MIME type of content starting with ``header`` (>= 8 KiB ideally)."""
    guess = filetype.guess(header)
    if guess is not None:
        mime = str(guess.mime)
        if mime.startswith("video/"):
            return AssetKind.VIDEO, mime
        if mime.startswith("audio/"):
            return AssetKind.AUDIO, mime
        if mime.startswith("image/"):
            return AssetKind.IMAGE, mime
        if mime == "application/pdf":
            return AssetKind.TEXT, mime
        raise UnsupportedMediaError(f"{filename or 'content'}: {mime} is not a supported media type")
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    mime = _TEXT_MIME_BY_SUFFIX.get(suffix) or (mimetypes.guess_type(filename)[0] or "")
    if mime.startswith("text/") or suffix in _TEXT_MIME_BY_SUFFIX:
        if _looks_like_text(header):
            return AssetKind.TEXT, mime or "text/plain"
        raise UnsupportedMediaError(f"{filename}: named as text but its content is binary")
    if _looks_like_text(header) and not suffix:
        return AssetKind.TEXT, "text/plain"
    raise UnsupportedMediaError(
        f"{filename or 'content'}: unrecognised content; supported are video, audio, images, "
        "plain text, Markdown, HTML and PDF"
    )


def _looks_like_text(header: bytes) -> bool:
    if b"\x00" in header:
        return False
    try:
        header.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the header is still text.
        return exc.start >= len(header) - 3
    return True
