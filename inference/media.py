"""Pure media analysis: shot boundaries, keyframes, audio decoding, speech spans, image hashes.

Everything here is synchronous and CPU-bound: stages run it with ``asyncio.to_thread`` (or the
worker's thread), never on the event loop. Probing and its typed errors live in the probe
stage; these functions assume a file that probed as valid and raise :class:`MediaError` when
decoding still fails.

A thread cannot be killed, so the long loops (shot detection, keyframe extraction, audio
decoding) take a ``cancel`` event: they check it at every decoded frame and raise
:class:`DecodeCancelled` once it is set, so a cancelled or timed-out stage frees its CPU at
once instead of decoding to the end of the file for nobody.
"""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

from inference.errors import InferenceError, MediaError, NoAudioStreamError, NoVideoStreamError
from inference.preprocess import RGBImage
from inference.registry import SAMPLE_RATE


class DecodeCancelled(InferenceError):
    """The caller set the ``cancel`` event: the work stopped, its result is wanted by nobody.

    Not a :class:`MediaError`: nothing is wrong with the file."""


def _check(cancel: threading.Event | None, what: str) -> None:
    if cancel is not None and cancel.is_set():
        raise DecodeCancelled(f"{what} cancelled")


# Shot detection reports progress at most once per this many frames (4 s at 25 fps).
PROGRESS_EVERY_FRAMES = 100

# --- scenes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shot:
    """A shot: [start, end) in seconds and the frame indexes it spans (end exclusive)."""

    index: int
    start: float
    end: float
    start_frame: int
    end_frame: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


# ContentDetector compares frames in HSV; 160 px wide keeps a cut's colour/brightness jump
# intact while making detection ~20x cheaper than at 720p. PySceneDetect's own auto-downscale
# targets 256 px; smaller still resolves every hard cut in the fixtures and real footage.
ANALYSIS_WIDTH = 160
# PySceneDetect's default ContentDetector threshold and minimum shot length (0.6 s at 25 fps).
DEFAULT_THRESHOLD = 27.0
DEFAULT_MIN_SHOT_SECONDS = 0.6


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"cannot open {path.name}: {exc}") from exc


def _frame_rate(stream: av.video.stream.VideoStream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return Fraction(rate) if rate else Fraction(25)


def detect_shots(
    path: Path,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_shot_seconds: float = DEFAULT_MIN_SHOT_SECONDS,
    analysis_width: int = ANALYSIS_WIDTH,
    cancel: threading.Event | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[Shot]:
    """Shot boundaries of a video with PySceneDetect's ContentDetector.

    Frames are decoded by PyAV and scaled to ``analysis_width`` by FFmpeg's scaler before the
    detector sees them. Times come from frame timestamps, so variable-frame-rate files are
    placed correctly. A video with no cut is one shot.

    ``cancel`` is checked at every frame (:class:`DecodeCancelled`); ``progress`` receives the
    fraction of the declared frames decoded, every ``PROGRESS_EVERY_FRAMES`` frames.
    """
    from scenedetect import FrameTimecode
    from scenedetect.detectors import ContentDetector

    container = _open(path)
    try:
        if not container.streams.video:
            raise NoVideoStreamError(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = _frame_rate(stream)
        detector = ContentDetector(
            threshold=threshold, min_scene_len=max(1, round(min_shot_seconds * float(fps)))
        )
        expected = _expected_frames(container, stream, fps)
        times: list[float] = []
        cuts: list[int] = []
        height = 0
        for index, frame in enumerate(_decode(container, stream)):
            _check(cancel, f"shot detection of {path.name}")
            if progress is not None and index and index % PROGRESS_EVERY_FRAMES == 0 and expected:
                progress(min(1.0, index / expected))
            if not height:
                height = max(2, round(frame.height * analysis_width / max(frame.width, 1) / 2) * 2)
            times.append(_frame_time(frame, index, fps))
            small = frame.reformat(width=analysis_width, height=height, format="bgr24").to_ndarray()
            cuts += [tc.frame_num for tc in detector.process_frame(FrameTimecode(index, fps), small)]
        if times:
            cuts += [tc.frame_num for tc in detector.post_process(FrameTimecode(len(times) - 1, fps))]
    finally:
        container.close()
    if not times:
        raise MediaError(f"{path.name} has no decodable video frames")
    frame_duration = float(1 / fps)
    end_time = times[-1] + frame_duration
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(times)}), len(times)]
    return [
        Shot(
            index=i,
            start=times[a],
            end=times[b] if b < len(times) else end_time,
            start_frame=a,
            end_frame=b,
        )
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    ]


def _expected_frames(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, fps: Fraction
) -> int:
    """Frames the stream declares (its frame count, else duration x rate); 0 when unknown."""
    if stream.frames:
        return int(stream.frames)
    if stream.duration is not None and stream.time_base is not None:
        return int(float(stream.duration * stream.time_base) * float(fps))
    if container.duration is not None:
        return int(container.duration / av.time_base * float(fps))
    return 0


def _decode(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> Iterator[av.VideoFrame]:
    try:
        yield from container.decode(stream)
    except av.FFmpegError as exc:
        raise MediaError(f"decoding failed: {exc}") from exc


def _frame_time(frame: av.VideoFrame, index: int, fps: Fraction) -> float:
    if frame.time is not None:
        return float(frame.time)
    return float(index / fps)


# --- keyframes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Keyframe:
    """The representative frame of a shot as JPEG, a thumbnail, and the RGB pixels for models."""

    shot_index: int
    time: float
    width: int
    height: int
    jpeg: bytes
    thumbnail: bytes
    image: RGBImage


# Where in a shot to look for its keyframe: away from the cut, whose neighbourhood holds fades
# and motion blur. The middle frame is preferred (index 0 below) and another candidate wins
# only when clearly sharper: picking the sharpest outright made a re-encoded copy of a video
# choose different frames (noise decides between near-equal scores), which breaks
# keyframe-based near-duplicate matching.
_CANDIDATE_POSITIONS = (0.5, 0.3, 0.7)
_CLEARLY_SHARPER = 1.5
THUMBNAIL_SIZE = (320, 180)


def encode_jpeg(image: RGBImage, *, quality: int = 85, max_size: tuple[int, int] | None = None) -> bytes:
    """JPEG bytes of an RGB image, fitted inside ``max_size`` when given."""
    pil = Image.fromarray(image)
    if max_size is not None:
        pil.thumbnail(max_size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    pil.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def sharpness(image: RGBImage) -> float:
    """Variance of the Laplacian of the gray image: higher is sharper."""
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def extract_keyframes(
    path: Path,
    shots: list[Shot],
    *,
    thumbnail_size: tuple[int, int] = THUMBNAIL_SIZE,
    quality: int = 85,
    cancel: threading.Event | None = None,
) -> list[Keyframe]:
    """One keyframe per shot: its middle frame, or a clearly sharper one sampled near it.

    ``cancel`` is checked at every decoded frame (:class:`DecodeCancelled`)."""
    container = _open(path)
    try:
        if not container.streams.video:
            raise NoVideoStreamError(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        keyframes = []
        for shot in shots:
            span = max(shot.duration, 0.0)
            targets = [shot.start + span * p for p in _CANDIDATE_POSITIONS]
            candidates = [_frame_at(container, stream, t, shot.end, cancel=cancel) for t in targets]
            found = [c for c in candidates if c is not None]
            if not found:
                continue
            scores = [sharpness(image) for _, image in found]
            best = max(range(len(found)), key=scores.__getitem__)
            pick = best if scores[best] > _CLEARLY_SHARPER * scores[0] else 0
            time, image = found[pick]
            keyframes.append(
                Keyframe(
                    shot_index=shot.index,
                    time=time,
                    width=int(image.shape[1]),
                    height=int(image.shape[0]),
                    jpeg=encode_jpeg(image, quality=quality),
                    thumbnail=encode_jpeg(image, quality=quality, max_size=thumbnail_size),
                    image=image,
                )
            )
        return keyframes
    finally:
        container.close()


def _frame_at(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    target: float,
    limit: float,
    *,
    cancel: threading.Event | None = None,
) -> tuple[float, RGBImage] | None:
    """The first frame at or after ``target`` (before ``limit``), seeking to the keyframe before it."""
    if stream.time_base is None:
        raise MediaError("video stream has no time base")
    container.seek(max(0, int(target / stream.time_base)), stream=stream, backward=True, any_frame=False)
    try:
        for frame in container.decode(stream):
            _check(cancel, "keyframe extraction")
            time = frame.time
            if time is None:
                continue
            if time + 1e-6 >= target:
                if time >= limit:
                    return None
                return float(time), np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    except av.FFmpegError as exc:
        raise MediaError(f"decoding failed: {exc}") from exc
    return None


def video_frame(path: Path, time: float) -> RGBImage:
    """The RGB frame shown at ``time`` seconds (for images of a given moment)."""
    container = _open(path)
    try:
        if not container.streams.video:
            raise NoVideoStreamError(f"{path.name} has no video stream")
        found = _frame_at(container, container.streams.video[0], time, float("inf"))
    finally:
        container.close()
    if found is None:
        raise MediaError(f"no frame at {time:.3f}s in {path.name}")
    return found[1]


# Decoding forward this far is cheaper than a seek (which restarts at the keyframe before the
# target and decodes up to it anyway).
_FORWARD_DECODE_S = 4.0


def video_frames(
    path: Path, times: Sequence[float], *, max_side: int = 0, cancel: threading.Event | None = None
) -> list[tuple[float, RGBImage]]:
    """(time, RGB frame) of the first frame at or after each of ``times``, in time order, from
    one pass over the container: it decodes forward to a near target and seeks to a far one;
    targets past the end are left out. ``max_side`` > 0 shrinks larger frames."""
    container = _open(path)
    out: list[tuple[float, RGBImage]] = []
    try:
        if not container.streams.video:
            raise NoVideoStreamError(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        if stream.time_base is None:
            raise MediaError("video stream has no time base")
        frames: Iterator[av.VideoFrame] | None = None
        position = -1.0
        for target in sorted(times):
            _check(cancel, "frame sampling")
            if frames is None or target < position or target - position > _FORWARD_DECODE_S:
                container.seek(max(0, int(target / stream.time_base)), stream=stream, backward=True)
                frames = container.decode(stream)
            found = None
            try:
                for frame in frames:
                    if frame.time is None:
                        continue
                    position = float(frame.time)
                    if position + 1e-6 >= target:
                        found = frame
                        break
            except av.FFmpegError as exc:
                raise MediaError(f"decoding failed: {exc}") from exc
            if found is None:
                break
            image = np.asarray(found.to_ndarray(format="rgb24"), dtype=np.uint8)
            if max_side and max(image.shape[0], image.shape[1]) > max_side:
                scale = max_side / max(image.shape[0], image.shape[1])
                size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
                image = np.asarray(
                    Image.fromarray(image).resize(size, Image.Resampling.BILINEAR), dtype=np.uint8
                )
            out.append((position, image))
    finally:
        container.close()
    return out


# --- audio -------------------------------------------------------------------------------


def decode_audio(
    path: Path,
    *,
    sample_rate: int = SAMPLE_RATE,
    max_seconds: float | None = None,
    cancel: threading.Event | None = None,
) -> npt.NDArray[np.float32]:
    """The first audio stream, mixed to mono and resampled to ``sample_rate``, as float32 in [-1, 1].

    ``cancel`` is checked at every decoded frame (:class:`DecodeCancelled`)."""
    container = _open(path)
    try:
        if not container.streams.audio:
            raise NoAudioStreamError(f"{path.name} has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[npt.NDArray[np.float32]] = []
        total = 0
        limit = None if max_seconds is None else int(max_seconds * sample_rate)
        try:
            for frame in container.decode(stream):
                _check(cancel, f"audio decoding of {path.name}")
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    chunks.append(chunk)
                    total += chunk.size
                if limit is not None and total >= limit:
                    break
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        except av.FFmpegError as exc:
            raise MediaError(f"audio decoding failed: {exc}") from exc
    finally:
        container.close()
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if limit is not None:
        audio = audio[:limit]
    return np.ascontiguousarray(audio, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Span:
    """A time span in seconds."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


def speech_spans(
    audio: npt.NDArray[np.float32],
    *,
    sample_rate: int = SAMPLE_RATE,
    min_silence_ms: int = 700,
    min_speech_ms: int = 250,
    pad_ms: int = 200,
) -> list[Span]:
    """Speech regions found by the Silero VAD bundled with faster-whisper.

    ``min_silence_ms`` is the pause that separates two spans: shorter than faster-whisper's
    transcription default (2 s) because these spans become an audio asset's scenes, and a
    sentence break is a better scene edge than a long silence.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if audio.size == 0:
        return []
    options = VadOptions(
        min_silence_duration_ms=min_silence_ms, min_speech_duration_ms=min_speech_ms, speech_pad_ms=pad_ms
    )
    stamps = get_speech_timestamps(
        np.ascontiguousarray(audio, dtype=np.float32), options, sampling_rate=sample_rate
    )
    return [Span(s["start"] / sample_rate, s["end"] / sample_rate) for s in stamps]


# --- perceptual hash ---------------------------------------------------------------------


def perceptual_hash(image: RGBImage) -> str:
    """64-bit DCT perceptual hash (imagehash.phash) as 16 hex digits; robust to re-encoding and scaling."""
    import imagehash

    return str(imagehash.phash(Image.fromarray(image)))


def hash_distance(a: str, b: str) -> int:
    """Hamming distance between two hex perceptual hashes (0 identical, 64 opposite)."""
    if len(a) != len(b):
        raise ValueError("hashes of different lengths")
    return (int(a, 16) ^ int(b, 16)).bit_count()
