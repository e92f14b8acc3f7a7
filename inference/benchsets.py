"""The fixture sets of the model benchmarks (``mediakg models bench``) and the generators that
make them: speech from espeak-ng, captions drawn with Pillow, scikit-image's sample photos.

They live in the ``inference`` package so the benchmark runs wherever the service is installed
(the image, a wheel), not only in a source checkout; ``tests/fixtures/media.py`` re-exports
the generators for the tests. Nothing is downloaded. Two generators need something the service
itself does not: espeak-ng (Debian package ``espeak-ng``) for speech and scikit-image (a dev
dependency) for the photos; :func:`espeak_available` and :func:`photos_available` say whether
they can run, and the benchmark reports a task it cannot measure instead of failing.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from inference.media import decode_audio
from inference.registry import SAMPLE_RATE

# --- speech ------------------------------------------------------------------------------

# Sentences espeak-ng pronounces clearly and whose words have one spelling (no "colour"), so a
# word error rate against them measures recognition, not orthography.
FIRST_SENTENCE = "The quick brown fox jumps over the lazy dog."
SECOND_SENTENCE = "She sells fresh bread at the market every morning."
VIDEO_SENTENCE = "Welcome to the media library."


def espeak_available() -> bool:
    """True when the espeak-ng binary (Debian package espeak-ng) is on PATH."""
    return shutil.which("espeak-ng") is not None


@dataclass(frozen=True, slots=True)
class SpeechClip:
    """A 16 kHz mono WAV of known text, and the longest pause measured in it."""

    path: Path
    text: str
    audio: npt.NDArray[np.float32]
    pause_start: float
    pause_end: float

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.audio.size / SAMPLE_RATE


def write_wav(path: Path, audio: npt.NDArray[np.float32]) -> None:
    """Write 16 kHz mono float audio as 16-bit PCM WAV."""
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=SAMPLE_RATE, layout="mono")
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def longest_silence(audio: npt.NDArray[np.float32], *, window_s: float = 0.02) -> tuple[float, float]:
    """Start and end (s) of the longest run of windows whose RMS is under 2% of the peak RMS,
    ignoring leading and trailing silence."""
    hop = int(SAMPLE_RATE * window_s)
    count = audio.size // hop
    rms = np.sqrt(np.mean(audio[: count * hop].reshape(count, hop) ** 2, axis=1))
    voiced = rms > 0.02 * rms.max()
    first, last = int(np.argmax(voiced)), int(count - np.argmax(voiced[::-1]))
    best = (0, 0)
    run_start = None
    for i in range(first, last):
        if not voiced[i] and run_start is None:
            run_start = i
        elif voiced[i] and run_start is not None:
            if i - run_start > best[1] - best[0]:
                best = (run_start, i)
            run_start = None
    return best[0] * window_s, best[1] * window_s


def make_speech(
    path: Path,
    sentences: Sequence[str] = (FIRST_SENTENCE, SECOND_SENTENCE),
    *,
    pause_ms: int = 2000,
    words_per_minute: int = 150,
) -> SpeechClip:
    """espeak-ng speaks ``sentences`` with an SSML break of ``pause_ms`` between them, to a 16 kHz WAV."""
    if not espeak_available():
        raise RuntimeError("espeak-ng is not installed (Debian package espeak-ng)")
    pause = f' <break time="{pause_ms}ms"/> '
    ssml = f"<speak>{pause.join(sentences)}</speak>"
    raw = path.with_suffix(".raw.wav")
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", str(words_per_minute), "-m", "-w", str(raw), ssml],
        check=True,
        capture_output=True,
    )
    audio = decode_audio(raw)
    raw.unlink()
    write_wav(path, audio)
    start, end = longest_silence(audio) if len(sentences) > 1 else (0.0, 0.0)
    return SpeechClip(path=path, text=" ".join(sentences), audio=audio, pause_start=start, pause_end=end)


# Speech of the routing calibration (scripts/calibrate_routing.py) and of the routing-policy
# benchmark (inference.bench_routing): two disjoint sets of two-sentence clips, so thresholds
# chosen on the first are judged on the second. 44 and 22 clips: with the first 12 and 6, one
# clip moved a threshold by 0.1 and a held-out share by 15 points. The sentences after the
# first 12 and 6 were written as one list of 48 and split 32/16 in order, before any was heard.
CALIBRATION_CLIPS: tuple[tuple[str, str], ...] = (
    ("The council will vote on the new budget next week.", "Heavy rain is expected across the coast."),
    ("Please send the quarterly report to the finance team.", "The meeting starts after lunch today."),
    ("Green lights shone over the northern hills all night.", "The train to the city leaves at noon."),
    ("Our new library opens to the public on Monday.", "Children can borrow three books each visit."),
    ("The river flooded the lower fields after the storm.", "Farmers moved their sheep to higher ground."),
    ("A small boat sailed slowly into the bay.", "The crew tied it to the old wooden dock."),
    ("The bakery on the corner sells warm bread.", "It opens early every day except Sunday."),
    ("The students finished their exams in June.", "Most of them will travel during the summer."),
    ("A strong wind knocked down the old oak tree.", "Workers cleared the road within an hour."),
    ("The new bridge will connect the two towns.", "Building work begins early next spring."),
    ("He cooked a simple dinner of rice and fish.", "His friends arrived just before eight."),
    ("The hospital hired more nurses this year.", "Patients now wait less time to be seen."),
    ("The farmer sold his apples at the weekly market.", "Buyers came from every village in the valley."),
    ("Our teacher read a long story to the class.", "The children listened quietly until the end."),
    ("The kitchen smelled of fresh coffee and toast.", "Her brother made breakfast for the whole family."),
    ("A young fox crossed the road in front of the car.", "The driver stopped and waited for it to pass."),
    ("The city plans to plant trees along the main street.", "Shop owners welcomed the idea at the meeting."),
    ("Thick fog covered the port early this morning.", "Ships waited outside until the air was clear."),
    ("The old clock in the hall stopped last winter.", "Nobody has found the time to repair it."),
    ("Most birds leave the island before the cold months.", "They return when the days grow longer again."),
    ("The pilot welcomed the passengers on board.", "The flight will land a little earlier than planned."),
    (
        "My sister bought a new bicycle for the summer.",
        "She rides it to the office when the weather is good.",
    ),
    ("The football team trained hard all season.", "They won the final match in front of their fans."),
    ("A large crowd gathered outside the town hall.", "People waited to hear the result of the vote."),
    ("The garden behind the house is full of flowers.", "Bees visit them from spring until late autumn."),
    ("The painter finished the portrait in a few weeks.", "It now hangs in the gallery near the river."),
    ("Fresh fruit is cheaper at the end of the day.", "The sellers want to go home with empty boxes."),
    ("The factory closed for a month in the summer.", "Workers took their holidays at the same time."),
    ("Heavy snow blocked the road to the village.", "A farmer cleared it with his tractor before dawn."),
    ("The chef prepared a special meal for the guests.", "Everyone asked for the recipe after dinner."),
    ("The library has a quiet room for reading.", "Students often study there in the evening."),
    ("The wind turned cold as the sun went down.", "We lit a fire and sat close to the flames."),
    ("She wrote a letter to her grandmother every week.", "The letters were full of news from school."),
    (
        "The new phone has a larger screen and a better camera.",
        "It also lasts longer before it needs charging.",
    ),
    ("The police closed the bridge for a few hours.", "Traffic moved slowly through the town square."),
    ("The children built a sandcastle on the beach.", "The tide washed it away in the afternoon."),
    ("The man next door keeps chickens in his garden.", "He gives us fresh eggs every Saturday."),
    ("The concert was moved to a larger hall.", "All the tickets were sold within a day."),
    ("A family of ducks lives beside the pond.", "Visitors feed them bread from the path."),
    ("The mayor opened the new swimming pool today.", "Local schools will use it for lessons."),
    ("The company hired a new manager last month.", "She has already changed the way the team works."),
    ("The storm cut power to many homes overnight.", "Engineers worked until morning to restore it."),
    ("He forgot his keys and waited outside the door.", "His wife came home an hour later."),
    ("The price of bread rose again this year.", "Many families now bake their own at home."),
)
HELD_OUT_CLIPS: tuple[tuple[str, str], ...] = (
    (FIRST_SENTENCE, SECOND_SENTENCE),
    ("The museum will close early on Friday evening.", "Visitors should leave their bags at the desk."),
    ("The doctor asked him to rest for a few days.", "He went back to work the following week."),
    ("Snow fell across the mountains during the night.", "The roads were closed until the morning."),
    ("The band played their new songs to a large crowd.", "Everyone sang along to the final song."),
    ("She planted tomatoes and beans in the garden.", "The plants grew tall by the end of summer."),
    ("The museum shows paintings from many countries.", "Entry is free on the first day of the month."),
    ("A cat sat on the wall and watched the birds.", "It jumped down when the dog began to bark."),
    ("The road along the coast is narrow and steep.", "Drivers must take care on the sharp bends."),
    ("We walked through the forest until it grew dark.", "The path back to the camp was hard to find."),
    ("The doctor told her to drink more water.", "She now carries a bottle wherever she goes."),
    ("The shop on the square sells shoes and bags.", "It has been run by the same family for years."),
    ("The scientists studied the ice near the pole.", "They found that it is melting faster than before."),
    ("The boat carried food and water to the island.", "It made the trip twice a week in good weather."),
    ("My father likes to fish in the lake on Sunday.", "He rarely catches anything but enjoys the quiet."),
    ("The play was a great success in the capital.", "Critics praised the actors and the music."),
    ("The school will build a new sports field.", "Work will start as soon as the rain stops."),
    ("A tall man in a dark coat knocked at the door.", "He asked for directions to the station."),
    ("The baker wakes up before the sun rises.", "His first loaves are ready before the shop opens."),
    ("The island has no cars and only one small road.", "Visitors walk or ride bicycles everywhere."),
    ("Our team finished the project ahead of time.", "The client was pleased with the final result."),
    ("The river is clean enough to swim in again.", "Fish have returned after many years away."),
)
# Noisy fixtures: the clean clip plus white noise at this signal-to-noise ratio (speech power
# over noise power), from a fixed seed so every run hears the same noise.
NOISE_SNR_DB = 5.0
NOISE_SEED = 20_261_205


def add_noise(audio: npt.NDArray[np.float32], *, snr_db: float, seed: int) -> npt.NDArray[np.float32]:
    """``audio`` mixed with Gaussian white noise at ``snr_db`` over its voiced samples' power."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(audio.size).astype(np.float32)
    voiced = audio[np.abs(audio) > 1e-4]
    power = float(np.mean(voiced**2)) if voiced.size else 1e-6
    noise *= np.sqrt(power / 10 ** (snr_db / 10)) / np.sqrt(float(np.mean(noise**2)))
    mixed: npt.NDArray[np.float32] = np.clip(audio + noise, -1.0, 1.0).astype(np.float32)
    return mixed


@dataclass(frozen=True, slots=True)
class RoutingClip:
    """A speech fixture of the routing calibration and benchmark."""

    name: str
    text: str
    audio: npt.NDArray[np.float32]
    noisy: bool


def routing_clips(
    directory: Path, clips: Sequence[tuple[str, str]], *, prefix: str
) -> tuple[list[RoutingClip], list[RoutingClip]]:
    """The clean and the noisy version of each clip (noise seeded per clip)."""
    clean: list[RoutingClip] = []
    noisy: list[RoutingClip] = []
    for i, sentences in enumerate(clips):
        speech = make_speech(directory / f"{prefix}-{i}.wav", sentences, pause_ms=800)
        clean.append(RoutingClip(f"{prefix}-{i}", speech.text, speech.audio, noisy=False))
        mixed = add_noise(speech.audio, snr_db=NOISE_SNR_DB, seed=NOISE_SEED + i)
        noisy.append(RoutingClip(f"{prefix}-{i}-noisy", speech.text, mixed, noisy=True))
    return clean, noisy


# --- images ------------------------------------------------------------------------------


def text_image(
    text: str, *, dark: bool = False, size: tuple[int, int] = (720, 200), font_size: int = 48
) -> npt.NDArray[np.uint8]:
    """RGB image of ``text`` in Pillow's built-in font: dark-on-light, or white-on-dark."""
    background, ink = ((24, 26, 38), (255, 255, 255)) if dark else ((250, 250, 245), (20, 20, 20))
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    position = ((size[0] - (right - left)) // 2 - left, (size[1] - (bottom - top)) // 2 - top)
    draw.text(position, text, font=font, fill=ink)
    return np.asarray(image, dtype=np.uint8)


# scikit-image's wheel ships these photographs; read the files directly (no pooch, no network).
PHOTOS = {
    "chelsea": "chelsea.png",  # a tabby cat
    "coffee": "coffee.png",  # a cup of coffee
    "astronaut": "astronaut.png",  # Eileen Collins, one frontal face
    "rocket": "rocket.jpg",  # a rocket on the launch pad
    "motorcycle": "motorcycle_left.png",
    "camera": "camera.png",  # gray cameraman
}


def photos_available() -> bool:
    """True when scikit-image (a dev dependency, not in the service image) is installed."""
    return importlib.util.find_spec("skimage") is not None


def photo(name: str) -> npt.NDArray[np.uint8]:
    """An RGB uint8 sample photo by name (see :data:`PHOTOS`)."""
    if not photos_available():
        raise RuntimeError("the sample photos come with scikit-image, which is not installed")
    ref = resources.files("skimage") / "data" / PHOTOS[name]
    with ref.open("rb") as handle, Image.open(handle) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


# --- the benchmark sets ------------------------------------------------------------------

# Query -> the passage it should retrieve; the passages double as distractors for each other.
RETRIEVAL_SET: tuple[tuple[str, str], ...] = (
    ("cat sleeping on a sofa", "A tabby cat naps on the living-room couch all afternoon."),
    ("rocket launch", "The launch vehicle lifted off from the pad at dawn, trailing smoke."),
    ("quarterly earnings", "The company reported revenue growth of four percent this quarter."),
    ("bread recipe", "Knead the dough for ten minutes, let it rise, then bake until golden."),
    ("football match result", "The home side won two to one after a late goal in stoppage time."),
    ("rain tomorrow", "Forecasters expect heavy showers across the region on Tuesday."),
    ("election results", "Votes were counted overnight and the incumbent conceded in the morning."),
    ("how to fix a flat tyre", "Remove the wheel, find the puncture, patch the inner tube and reinflate."),
    ("jazz concert", "The quartet played standards and a long saxophone solo to a full club."),
    ("stock market crash", "Share prices plunged as investors sold off in a panic."),
    ("hiking in the mountains", "We climbed the ridge trail above the tree line to a glacier lake."),
    ("vaccine trial", "The clinical study enrolled volunteers to test the new immunisation."),
)
OCR_SET: tuple[str, ...] = ("Invoice 2024 Total 318", "BREAKING NEWS", "Meeting at 10:30", "Exit Gate B")
# scikit-image photo -> acceptable ImageNet indices (as in tests/inference/test_vision.py).
LABEL_SET: dict[str, frozenset[int]] = {
    "chelsea": frozenset(range(281, 286)),
    "coffee": frozenset({967, 968, 504}),
    "rocket": frozenset({657, 744, 812}),
}
