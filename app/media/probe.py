"""What a file really is: container, streams, duration, dimensions, frame rate, channels, codecs.

The pure part of the pipeline's first stage (``jobs/stages/probe.py`` runs it and writes the
result onto the Asset). It reads headers and packets but decodes at most one frame per
stream, so it is cheap even for long files. Everything that makes later stages pointless or
dangerous fails here, permanently, with a typed code:

- ``EMPTY_FILE``: zero bytes;
- ``CORRUPT_MEDIA``: no container or codec can make sense of it, or nothing decodes;
- ``TRUNCATED_MEDIA``: the file ends before its own headers say it does;
- ``KIND_MISMATCH``: the content is not what the asset was registered as (a video without a
  video stream, a video registered as an image, binary bytes registered as text, ...);
- ``DECOMPRESSION_BOMB``: declared dimensions or frame counts that would expand a small file
  into an absurd amount of pixels or samples;
- ``TEXT_ENCODING``: text that is not valid UTF-8/UTF-16/UTF-32;
- ``UNSUPPORTED_MEDIA``: a valid file the service cannot analyse (an encrypted PDF).
"""

from __future__ import annotations

import codecs
import struct
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image, UnidentifiedImageError

from app.core.enums import AssetKind
from app.jobs.errors import PermanentStageError

EMPTY_FILE = "EMPTY_FILE"
CORRUPT_MEDIA = "CORRUPT_MEDIA"
TRUNCATED_MEDIA = "TRUNCATED_MEDIA"
KIND_MISMATCH = "KIND_MISMATCH"
DECOMPRESSION_BOMB = "DECOMPRESSION_BOMB"
TEXT_ENCODING = "TEXT_ENCODING"
UNSUPPORTED_MEDIA = "UNSUPPORTED_MEDIA"

# Largest width or height accepted: 16384 is the largest texture GPUs and most decoders
# handle; the largest H.264/H.265 level (6.2) stops at 8192x4320.
MAX_DIMENSION = 16_384
# Pixels of one image: Pillow's own decompression-bomb threshold (Image.MAX_IMAGE_PIXELS).
MAX_IMAGE_PIXELS = 89_478_485
# Pixels of one video frame: 8K UHD is 33 Mpx; twice that leaves room for odd formats.
MAX_FRAME_PIXELS = 67_108_864
# A video whose declared decoded size exceeds this many pixels per byte of file is a bomb.
# Real footage stays far below: a static black 1080p H.264 clip reaches ~1e5 px/byte.
MAX_PIXELS_PER_BYTE = 1_000_000
# ... but only beyond this volume (1e10 px = 80 min of 1080p), so tiny test clips never trip it.
MIN_BOMB_PIXELS = 10_000_000_000
# Audio: decoded samples per byte; the most efficient codecs (Opus at 6 kbit/s) reach ~64.
MAX_SAMPLES_PER_BYTE = 100_000
MIN_BOMB_SAMPLES = 1_000_000_000
# A container that stops this far before its declared duration is truncated (a little
# slack: declared durations round up, and the last packet's duration may be missing).
_TRUNCATION_SLACK_S = 0.5
_TRUNCATION_RATIO = 0.9
# Demuxers that read single images (or image sequences) rather than video containers.
_IMAGE_FORMATS = ("image2", "gif", "webp", "apng")


class ProbeError(PermanentStageError):
    """The file cannot go through the pipeline; ``code`` says why."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What the probe learned; ``media_info`` is JSON-serialisable."""

    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    audio_channels: int | None = None
    media_info: dict[str, Any] = field(default_factory=dict)


def probe_file(path: Path, *, kind: AssetKind, mime_type: str = "") -> ProbeResult:
    """Probe the file at ``path`` registered as ``kind``; raise ProbeError when it is unusable."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ProbeError(CORRUPT_MEDIA, f"the file cannot be read: {exc.strerror or exc}") from exc
    if size == 0:
        raise ProbeError(EMPTY_FILE, "the file is empty (0 bytes)")
    if kind == AssetKind.TEXT:
        if mime_type == "application/pdf":
            return _probe_pdf(path, size)
        return _probe_text(path, size)
    return _probe_media(path, size, kind)


# --- audio, video, images -----------------------------------------------------------------


def _probe_media(path: Path, size: int, kind: AssetKind) -> ProbeResult:
    if kind == AssetKind.IMAGE:
        _check_image_header(path)
    _check_bmff_boxes(path, size)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise ProbeError(CORRUPT_MEDIA, f"no decoder recognises the file: {_reason(exc)}") from exc
    with container:
        fmt = container.format.name
        videos = [
            s
            for s in container.streams.video
            # Cover art in an audio file is a one-picture "video" stream: not video content.
            if not s.disposition & av.stream.Disposition.attached_pic
        ]
        audios = list(container.streams.audio)
        content = _content_kind(fmt, videos, audios)
        if content != kind.value:
            holds = _describe(content, videos, audios)
            raise ProbeError(
                KIND_MISMATCH, f"the asset is registered as {kind.value} but the file holds {holds}"
            )
        declared = container.duration / 1_000_000 if container.duration else None
        width = height = None
        frame_rate = None
        if videos:
            video = videos[0]
            width, height = video.codec_context.width, video.codec_context.height
            if not width or not height:
                # FFmpeg refuses sizes beyond INT_MAX pixels and leaves them 0.
                raise ProbeError(CORRUPT_MEDIA, "the video stream has no valid dimensions")
            rate = video.average_rate or video.guessed_rate
            frame_rate = float(rate) if rate else None
            _check_pixels(width, height, image=content == "image")
        channels = audios[0].codec_context.channels if audios else None
        streams = [_stream_info(s) for s in container.streams]
        info: dict[str, Any] = {
            "container": fmt,
            "container_long_name": container.format.long_name,
            "bit_rate": container.bit_rate or None,
            "size_bytes": size,
            "streams": streams,
            "video_codec": videos[0].codec_context.name if videos else None,
            "audio_codec": audios[0].codec_context.name if audios else None,
        }
        if audios:
            info["sample_rate"] = audios[0].codec_context.sample_rate
        if content == "image":
            end = None
        else:
            _check_volume(size, declared, width, height, frame_rate, audios)
            end = _demux_end(container, declared)
    _check_decodes(
        path, video="image" if content == "image" else "video stream" if videos else None, audio=bool(audios)
    )
    if content == "image":
        return ProbeResult(width=width, height=height, media_info=info)
    duration = declared if declared is not None else end
    return ProbeResult(
        duration_s=round(duration, 3) if duration is not None else None,
        width=width,
        height=height,
        frame_rate=round(frame_rate, 3) if frame_rate else None,
        audio_channels=channels,
        media_info=info,
    )


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "strerror", None) or exc)
    return text.split(":")[0].strip() or type(exc).__name__


def _content_kind(fmt: str, videos: list[Any], audios: list[Any]) -> str:
    if videos:
        if fmt.endswith("_pipe") or fmt in _IMAGE_FORMATS:
            return "image"
        return "video"
    if audios:
        return "audio"
    raise ProbeError(CORRUPT_MEDIA, f"the {fmt} container holds no audio or video stream")


def _describe(content: str, videos: list[Any], audios: list[Any]) -> str:
    if content == "image":
        return "a still image"
    parts = []
    if videos:
        parts.append(f"{len(videos)} video stream{'s' * (len(videos) > 1)}")
    if audios:
        parts.append(f"{len(audios)} audio stream{'s' * (len(audios) > 1)}")
    return f"{content} ({' and '.join(parts)})"


def _check_image_header(path: Path) -> None:
    # Pillow reads only the header here: absurd dimensions are refused before any decoder
    # allocates a frame for them (FFmpeg would try).
    try:
        with warnings.catch_warnings():
            # Pillow warns above its threshold; the limit below decides instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError as exc:
        raise ProbeError(DECOMPRESSION_BOMB, f"the image declares an absurd size ({exc})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        # Not a format Pillow knows (or a broken header): FFmpeg gets its say next.
        return
    _check_pixels(width, height, image=True)


def _check_pixels(width: int, height: int, *, image: bool) -> None:
    limit = MAX_IMAGE_PIXELS if image else MAX_FRAME_PIXELS
    what = "image" if image else "video frame"
    if width > MAX_DIMENSION or height > MAX_DIMENSION or width * height > limit:
        raise ProbeError(
            DECOMPRESSION_BOMB,
            f"the {what} declares {width}x{height} pixels (limits: {MAX_DIMENSION} per side, "
            f"{limit} in total)",
        )


def _check_volume(
    size: int,
    duration: float | None,
    width: int | None,
    height: int | None,
    frame_rate: float | None,
    audios: list[Any],
) -> None:
    if duration is None:
        return
    if width and height and frame_rate:
        pixels = duration * frame_rate * width * height
        if pixels > MIN_BOMB_PIXELS and pixels / size > MAX_PIXELS_PER_BYTE:
            raise ProbeError(
                DECOMPRESSION_BOMB,
                f"{size} bytes declare {duration:.0f} s of {width}x{height} video at {frame_rate:g} fps "
                f"({pixels / size:.3g} decoded pixels per byte)",
            )
    if audios:
        ctx = audios[0].codec_context
        samples = duration * (ctx.sample_rate or 0) * max(1, ctx.channels or 1)
        if samples > MIN_BOMB_SAMPLES and samples / size > MAX_SAMPLES_PER_BYTE:
            raise ProbeError(
                DECOMPRESSION_BOMB,
                f"{size} bytes declare {duration:.0f} s of audio ({samples / size:.3g} samples per byte)",
            )


def _demux_end(container: Any, declared: float | None) -> float | None:
    """Read every packet (no decoding): where the data really ends, in seconds."""
    end: float | None = None
    packets = 0
    try:
        for packet in container.demux():
            if packet.size == 0 or packet.pts is None or packet.time_base is None:
                continue
            packets += 1
            tb: Fraction = packet.time_base
            stop = float((packet.pts + (packet.duration or 0)) * tb)
            start = packet.stream.start_time
            if start is not None and packet.stream.time_base is not None:
                stop -= float(start * packet.stream.time_base)
            end = stop if end is None else max(end, stop)
    except av.FFmpegError as exc:
        if packets == 0:
            raise ProbeError(CORRUPT_MEDIA, f"no packet can be read: {_reason(exc)}") from exc
        raise ProbeError(
            TRUNCATED_MEDIA, f"the data breaks off after {end or 0:.2f} s: {_reason(exc)}"
        ) from exc
    if packets == 0:
        raise ProbeError(TRUNCATED_MEDIA, "the container declares streams but holds no data")
    if declared is not None and end is not None and end < declared * _TRUNCATION_RATIO - _TRUNCATION_SLACK_S:
        raise ProbeError(
            TRUNCATED_MEDIA, f"the data ends at {end:.2f} s but the file declares {declared:.2f} s"
        )
    return end


def _check_decodes(path: Path, *, video: str | None, audio: bool) -> None:
    """Decode the first frame of the first video stream (named ``video``) and audio stream."""
    checks = ([("video", video)] if video else []) + ([("audio", "audio stream")] if audio else [])
    for stream_type, label in checks:
        try:
            with av.open(str(path), metadata_errors="ignore") as container:
                frame = next(iter(container.decode(**{stream_type: 0})), None)
        except av.FFmpegError as exc:
            raise ProbeError(CORRUPT_MEDIA, f"the {label} does not decode: {_reason(exc)}") from exc
        if frame is None:
            raise ProbeError(CORRUPT_MEDIA, f"the {label} holds no decodable frame")


def _stream_info(stream: Any) -> dict[str, Any]:
    ctx = stream.codec_context
    info: dict[str, Any] = {"index": stream.index, "type": stream.type, "codec": ctx.name if ctx else None}
    if stream.type == "video":
        rate = stream.average_rate or stream.guessed_rate
        info.update(
            width=ctx.width,
            height=ctx.height,
            pix_fmt=ctx.pix_fmt,
            frame_rate=float(rate) if rate else None,
            frames=stream.frames or None,
        )
    elif stream.type == "audio":
        info.update(
            sample_rate=ctx.sample_rate, channels=ctx.channels, layout=ctx.layout.name if ctx.layout else None
        )
    if stream.duration is not None and stream.time_base is not None:
        info["duration_s"] = round(float(stream.duration * stream.time_base), 3)
    language = stream.metadata.get("language")
    if language:
        info["language"] = language
    return info


_BMFF_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf", b"mvex", b"edts", b"udta"}


def _check_bmff_boxes(path: Path, size: int) -> None:
    """MP4/MOV: a top-level box that claims to run past the end of the file means truncation.

    FFmpeg only says "invalid data" when the index (moov) at the end was cut off; the box
    sizes say precisely what happened.
    """
    with path.open("rb") as stream:
        head = stream.read(12)
        if len(head) < 8 or head[4:8] != b"ftyp":
            return
        offset = 0
        while offset < size:
            stream.seek(offset)
            header = stream.read(16)
            if len(header) < 8:
                raise ProbeError(TRUNCATED_MEDIA, f"the file ends inside a box header at byte {offset}")
            box_size, box_type = struct.unpack(">I4s", header[:8])
            if box_size == 1:
                if len(header) < 16:
                    raise ProbeError(TRUNCATED_MEDIA, f"the file ends inside a box header at byte {offset}")
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:
                return  # the box runs to the end of the file by definition
            if box_size < 8:
                raise ProbeError(CORRUPT_MEDIA, f"invalid {box_type!r} box size {box_size} at byte {offset}")
            if offset + box_size > size:
                name = box_type.decode("latin-1")
                raise ProbeError(
                    TRUNCATED_MEDIA,
                    f"the {name!r} box at byte {offset} needs {box_size} bytes but the file ends "
                    f"{size - offset} bytes later ({size} bytes in all)",
                )
            offset += box_size


# --- text and PDF ---------------------------------------------------------------------


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _probe_text(path: Path, size: int) -> ProbeResult:
    data = path.read_bytes()
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    if encoding == "utf-8" and b"\x00" in data:
        at = data.index(b"\x00")
        raise ProbeError(
            KIND_MISMATCH, f"the asset is registered as text but holds binary data (NUL at byte {at})"
        )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ProbeError(
            TEXT_ENCODING,
            f"the text is not valid {encoding.upper()}: byte {exc.start} (0x{data[exc.start]:02x}) "
            "cannot be decoded; re-save it as UTF-8",
        ) from exc
    return ProbeResult(
        media_info={
            "encoding": encoding.removesuffix("-sig"),
            "characters": len(text),
            "lines": text.count("\n") + (0 if text.endswith("\n") else 1),
            "size_bytes": size,
        }
    )


def _probe_pdf(path: Path, size: int) -> ProbeResult:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    with path.open("rb") as stream:
        head = stream.read(1024)
        stream.seek(max(0, size - 1024))
        tail = stream.read()
    if b"%PDF-" not in head:
        raise ProbeError(KIND_MISMATCH, "the asset is registered as PDF but has no %PDF- header")
    if b"%%EOF" not in tail:
        raise ProbeError(TRUNCATED_MEDIA, "the PDF has no %%EOF marker at its end: it was cut off")
    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            raise ProbeError(UNSUPPORTED_MEDIA, "the PDF is encrypted; its text cannot be read")
        pages = len(reader.pages)
    except ProbeError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, struct.error) as exc:
        raise ProbeError(CORRUPT_MEDIA, f"the PDF cannot be parsed: {exc}") from exc
    version = head[head.index(b"%PDF-") + 5 :][:3].decode("ascii", "replace")
    return ProbeResult(
        media_info={"container": "pdf", "pdf_version": version, "pages": pages, "size_bytes": size}
    )
