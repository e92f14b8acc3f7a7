"""The probe: what good files are, and a typed permanent error for every kind of bad file."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from pypdf import PdfWriter

from app.core.enums import AssetKind
from app.media.probe import (
    CORRUPT_MEDIA,
    DECOMPRESSION_BOMB,
    EMPTY_FILE,
    KIND_MISMATCH,
    TEXT_ENCODING,
    TRUNCATED_MEDIA,
    ProbeError,
    probe_file,
)
from tests.jobs.media import make_long_declared_video, make_png, make_video, make_wav


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` (its data covers 4 rows at most)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1) * min(height, 4))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def expect(code: str, path: Path, kind: AssetKind, mime: str = "") -> str:
    with pytest.raises(ProbeError) as failure:
        probe_file(path, kind=kind, mime_type=mime)
    assert failure.value.code == code, failure.value.message
    assert failure.value.permanent
    return failure.value.message


def test_video_with_audio(tmp_path: Path) -> None:
    result = probe_file(make_video(tmp_path / "v.mp4", seconds=2.0), kind=AssetKind.VIDEO)
    assert (result.width, result.height, result.frame_rate, result.audio_channels) == (64, 48, 25.0, 1)
    assert result.duration_s == pytest.approx(2.0, abs=0.1)
    info = result.media_info
    assert (info["video_codec"], info["audio_codec"], info["sample_rate"]) == ("h264", "aac", 16000)
    assert info["container"].startswith("mov,mp4")
    assert [s["type"] for s in info["streams"]] == ["video", "audio"]
    assert info["streams"][0]["frames"] == 50


def test_audio_and_image(tmp_path: Path) -> None:
    audio = probe_file(make_wav(tmp_path / "a.wav", seconds=1.5, channels=2), kind=AssetKind.AUDIO)
    assert (audio.duration_s, audio.audio_channels, audio.width) == (1.5, 2, None)
    assert audio.media_info["audio_codec"] == "pcm_s16le"
    image = probe_file(make_png(tmp_path / "i.png", size=(80, 60)), kind=AssetKind.IMAGE)
    assert (image.width, image.height, image.duration_s, image.frame_rate) == (80, 60, None, None)
    assert image.media_info["video_codec"] == "png"


def test_text_and_pdf(tmp_path: Path) -> None:
    text = tmp_path / "t.md"
    text.write_text("# Título\n\nzwei Zeilen\n", encoding="utf-8")
    info = probe_file(text, kind=AssetKind.TEXT, mime_type="text/markdown").media_info
    assert (info["encoding"], info["characters"], info["lines"]) == ("utf-8", 22, 3)
    utf16 = tmp_path / "u.txt"
    utf16.write_bytes("hello".encode("utf-16"))
    assert probe_file(utf16, kind=AssetKind.TEXT).media_info["encoding"] == "utf-16"
    pdf = tmp_path / "d.pdf"
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_blank_page(200, 200)
    with pdf.open("wb") as out:
        writer.write(out)
    assert probe_file(pdf, kind=AssetKind.TEXT, mime_type="application/pdf").media_info["pages"] == 2


def test_zero_length(tmp_path: Path) -> None:
    (tmp_path / "z.mp4").write_bytes(b"")
    assert expect(EMPTY_FILE, tmp_path / "z.mp4", AssetKind.VIDEO) == "the file is empty (0 bytes)"


def test_corrupt(tmp_path: Path) -> None:
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(bytes(range(256)) * 40)
    assert "no decoder recognises the file" in expect(CORRUPT_MEDIA, noise, AssetKind.VIDEO)
    # Intact container, scrambled video data (same length: no truncation to see).
    video = bytearray(make_video(tmp_path / "v.mp4", faststart=True).read_bytes())
    start = video.index(b"mdat") + 4
    video[start:] = bytes((i * 7919) % 251 for i in range(len(video) - start))
    (tmp_path / "scrambled.mp4").write_bytes(video)
    assert "video stream does not decode" in expect(
        CORRUPT_MEDIA, tmp_path / "scrambled.mp4", AssetKind.VIDEO
    )
    image = bytearray(make_png(tmp_path / "i.png").read_bytes())
    at = image.index(b"IDAT") + 14
    image[at:-20] = bytes(len(image) - 20 - at)
    (tmp_path / "broken.png").write_bytes(image)
    assert "image does not decode" in expect(CORRUPT_MEDIA, tmp_path / "broken.png", AssetKind.IMAGE)
    pdf = tmp_path / "bad.pdf"
    pdf.write_bytes(b"%PDF-1.7\n1 0 obj garbage endobj\n%%EOF\n")
    assert "PDF cannot be parsed" in expect(CORRUPT_MEDIA, pdf, AssetKind.TEXT, "application/pdf")


@pytest.mark.parametrize("faststart", [False, True])
def test_truncated_mp4(tmp_path: Path, faststart: bool) -> None:
    # Without faststart the index (moov) sits at the end and is lost; with it, the data is.
    whole = make_video(tmp_path / "v.mp4", seconds=2.0, faststart=faststart).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) * 6 // 10])
    message = expect(TRUNCATED_MEDIA, cut, AssetKind.VIDEO)
    assert "'mdat' box" in message
    assert f"({len(whole) * 6 // 10} bytes in all)" in message


def test_truncated_pdf(tmp_path: Path) -> None:
    pdf = tmp_path / "d.pdf"
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    with pdf.open("wb") as out:
        writer.write(out)
    data = pdf.read_bytes()
    pdf.write_bytes(data[: len(data) // 2])
    assert "%%EOF" in expect(TRUNCATED_MEDIA, pdf, AssetKind.TEXT, "application/pdf")


def test_mislabelled(tmp_path: Path) -> None:
    wav = make_wav(tmp_path / "a.wav")
    assert expect(KIND_MISMATCH, wav, AssetKind.VIDEO).endswith("holds audio (1 audio stream)")
    video = make_video(tmp_path / "v.mp4")
    assert "holds video (1 video stream and 1 audio stream)" in expect(KIND_MISMATCH, video, AssetKind.IMAGE)
    assert "holds video" in expect(KIND_MISMATCH, video, AssetKind.AUDIO)
    png = make_png(tmp_path / "i.png")
    assert expect(KIND_MISMATCH, png, AssetKind.VIDEO).endswith("holds a still image")
    assert "binary data (NUL at byte" in expect(KIND_MISMATCH, png, AssetKind.TEXT)
    not_pdf = tmp_path / "n.pdf"
    not_pdf.write_text("plain words")
    assert "no %PDF- header" in expect(KIND_MISMATCH, not_pdf, AssetKind.TEXT, "application/pdf")


def test_text_in_a_wrong_encoding(tmp_path: Path) -> None:
    latin = tmp_path / "l.txt"
    latin.write_bytes("Gr\u00fc\u00dfe aus K\u00f6ln".encode("latin-1"))
    assert expect(TEXT_ENCODING, latin, AssetKind.TEXT) == (
        "the text is not valid UTF-8: byte 2 (0xfc) cannot be decoded; re-save it as UTF-8"
    )


def test_decompression_bombs(tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_header(60_000, 60_000))
    assert "absurd size" in expect(DECOMPRESSION_BOMB, huge, AssetKind.IMAGE)
    # Under Pillow's own hard limit but over ours: the limit of this module decides.
    big = tmp_path / "big.png"
    big.write_bytes(png_header(12_000, 12_000))
    assert "12000x12000 pixels" in expect(DECOMPRESSION_BOMB, big, AssetKind.IMAGE)
    # 1.2 kB declaring 100 hours of video.
    long = make_long_declared_video(tmp_path / "long.mkv", hours=100)
    message = expect(DECOMPRESSION_BOMB, long, AssetKind.VIDEO)
    assert f"{long.stat().st_size} bytes declare 360000 s of 64x48 video at 25 fps" in message
    # A legitimate long-ish clip of a static picture is not a bomb.
    assert probe_file(make_video(tmp_path / "still.mp4", seconds=4.0), kind=AssetKind.VIDEO).duration_s
