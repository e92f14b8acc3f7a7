"""Tiny media files made on the spot with PyAV (no downloads, a few milliseconds each)."""

from __future__ import annotations

import fractions
import wave
from pathlib import Path

import av
import numpy as np
from PIL import Image


def make_video(
    path: Path,
    *,
    seconds: float = 1.0,
    fps: int = 25,
    size: tuple[int, int] = (64, 48),
    shade: int = 0,
    audio: bool = True,
    faststart: bool = False,
) -> Path:
    """An H.264 (+ AAC) clip whose frames brighten over time; ``shade`` makes clips differ."""
    width, height = size
    frames = max(1, round(seconds * fps))
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        sound = container.add_stream("aac", rate=16000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for i in range(frames):
            pixels = np.full((height, width, 3), (shade * 37 + i * 3) % 256, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            samples = int(16000 * frames / fps)
            tone = (np.sin(np.arange(samples) / 8.0) * 0.2).astype(np.float32).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, 0
            for packet in sound.encode(frame):
                container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


def make_long_declared_video(path: Path, *, hours: float = 100.0) -> Path:
    """A Matroska file of two 64x48 frames whose timestamps declare ``hours`` of video."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = {"preset": "ultrafast"}
        for pts in (0, int(25 * 3600 * hours)):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, fractions.Fraction(1, 25)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
    return path


def make_wav(path: Path, *, seconds: float = 1.0, channels: int = 2, rate: int = 16000) -> Path:
    """Silence as 16-bit PCM WAV."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.zeros(int(seconds * rate) * channels, np.int16).tobytes())
    return path


def make_png(path: Path, *, size: tuple[int, int] = (64, 48)) -> Path:
    """A noisy RGB PNG (noise: so that corrupting its data cannot go unnoticed)."""
    rng = np.random.default_rng(7)
    Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)).save(path)
    return path
