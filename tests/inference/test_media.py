"""Shots, keyframes, audio decoding, speech spans and perceptual hashes on generated media."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageFilter

from inference.errors import MediaError, NoAudioStreamError
from inference.media import (
    Shot,
    decode_audio,
    detect_shots,
    extract_keyframes,
    hash_distance,
    perceptual_hash,
    speech_spans,
    video_frame,
    video_frames,
)
from inference.preprocess import load_image
from tests.fixtures.media import (
    SAMPLE_RATE,
    SpeechClip,
    VideoClip,
    image_bytes,
    make_video,
    photo,
    reencode_video,
)


def test_planted_cuts_are_found_within_one_frame(silent_video: VideoClip) -> None:
    shots = detect_shots(silent_video.path)
    one_frame = 1 / silent_video.fps
    assert len(shots) == len(silent_video.cuts) + 1
    for shot, cut in zip(shots[1:], silent_video.cuts, strict=True):
        assert abs(shot.start - cut) <= one_frame + 1e-6
    assert shots[0].start == 0.0
    assert abs(shots[-1].end - silent_video.duration) <= one_frame + 1e-6
    assert all(a.end == b.start for a, b in itertools.pairwise(shots))
    assert [s.index for s in shots] == list(range(len(shots)))


def test_a_video_without_cuts_is_one_shot(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "one.mp4", shot_colours=[(200, 60, 60)], shot_seconds=1.6)
    (shot,) = detect_shots(clip.path)
    assert shot.start == 0.0
    assert abs(shot.end - clip.duration) < 1e-6
    assert shot.end_frame == 40


def test_black_opening_is_its_own_shot(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "lead.mp4", lead_in_black_seconds=1.0, shot_seconds=1.0)
    shots = detect_shots(clip.path)
    assert clip.cuts == (1.0, 2.0, 3.0)
    assert [round(s.start, 2) for s in shots] == [0.0, 1.0, 2.0, 3.0]


def test_one_keyframe_per_shot_inside_it_with_its_colour(silent_video: VideoClip) -> None:
    shots = detect_shots(silent_video.path)
    keyframes = extract_keyframes(silent_video.path, shots, thumbnail_size=(160, 90))
    assert [k.shot_index for k in keyframes] == [s.index for s in shots]
    for keyframe, shot, colour in zip(keyframes, shots, silent_video.shot_colours, strict=True):
        assert shot.start <= keyframe.time < shot.end
        assert (keyframe.width, keyframe.height) == (silent_video.width, silent_video.height)
        decoded = load_image(keyframe.jpeg)
        assert decoded.shape == (silent_video.height, silent_video.width, 3)
        # A corner pixel away from the moving square carries the shot's colour (H.264 + JPEG
        # move it a little).
        assert np.abs(decoded[4, 4].astype(int) - np.asarray(colour)).max() <= 12
        with Image.open(io.BytesIO(keyframe.thumbnail)) as thumb:
            assert thumb.format == "JPEG"
            assert thumb.size[0] <= 160
            assert thumb.size[1] <= 90
        assert keyframe.image.dtype == np.uint8


def test_reencoded_copy_keeps_shots_and_keyframe_hashes(silent_video: VideoClip, tmp_path: Path) -> None:
    copy = reencode_video(silent_video.path, tmp_path / "copy.mp4", size=(192, 144), bitrate=150_000)
    original_shots, copy_shots = detect_shots(silent_video.path), detect_shots(copy)
    assert [round(s.start, 2) for s in copy_shots] == [round(s.start, 2) for s in original_shots]
    original = extract_keyframes(silent_video.path, original_shots)
    copied = extract_keyframes(copy, copy_shots)
    assert copied[0].width == 192
    for a, b in zip(original, copied, strict=True):
        assert hash_distance(perceptual_hash(a.image), perceptual_hash(b.image)) <= 10


def test_a_blurred_middle_frame_is_passed_over(tmp_path: Path) -> None:
    # One 2 s shot of a checkerboard, motion-blurred around its middle (0.8-1.2 s).
    path = tmp_path / "blur.mp4"
    board = np.kron((np.indices((12, 16)).sum(axis=0) % 2) * 255, np.ones((20, 20))).astype(np.uint8)
    sharp = Image.fromarray(board).convert("RGB")
    blurred = sharp.filter(ImageFilter.GaussianBlur(8))
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(50):
            image = blurred if 20 <= index < 30 else sharp
            frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    # Blurring a checkerboard changes every pixel, which the detector rightly calls a cut;
    # the keyframe choice is what is tested, so the shot is given.
    (keyframe,) = extract_keyframes(path, [Shot(0, 0.0, 2.0, 0, 50)])
    assert not 0.8 <= keyframe.time < 1.2, keyframe.time


def test_video_frame_at_a_time(silent_video: VideoClip) -> None:
    frame = video_frame(silent_video.path, 4.5)
    assert np.abs(frame[4, 4].astype(int) - np.asarray(silent_video.shot_colours[2])).max() <= 12


def test_video_frames_in_one_pass_match_one_seek_per_frame(silent_video: VideoClip) -> None:
    # Near targets are decoded forward; a far one (over 4 s on) and one before the frame found
    # for the previous target (1.02 after 1.01 found 1.04) seek: every path gives the frame one
    # seek to that instant gives; a target past the end gives none.
    times = [5.2, 0.3, 1.01, 1.02, 1.5, 99.0]
    found = video_frames(silent_video.path, times)
    assert len(found) == 5
    for target, (time, frame) in zip(sorted(times), found, strict=False):
        assert target - 1e-6 <= time < target + 1 / silent_video.fps + 1e-6
        assert np.array_equal(frame, video_frame(silent_video.path, target)), target
    small = video_frames(silent_video.path, [4.5], max_side=160)
    assert [f.shape for _, f in small] == [(120, 160, 3)]


def test_audio_decodes_to_16k_mono_float(video: VideoClip) -> None:
    assert video.speech is not None
    audio = decode_audio(video.path)
    assert audio.dtype == np.float32
    assert audio.ndim == 1
    # AAC adds priming samples and pads the last frame: within 0.1 s of the speech put in.
    assert abs(audio.size / SAMPLE_RATE - video.speech.duration) < 0.1
    assert 0.05 < float(np.abs(audio).max()) <= 1.0
    clipped = decode_audio(video.path, max_seconds=1.0)
    assert clipped.size == SAMPLE_RATE


def test_video_without_audio_raises_a_typed_error(silent_video: VideoClip) -> None:
    with pytest.raises(NoAudioStreamError):
        decode_audio(silent_video.path)


def test_garbage_is_a_media_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(b"\x00\x01not a video" * 100)
    with pytest.raises(MediaError):
        detect_shots(path)
    with pytest.raises(MediaError):
        decode_audio(path)


@pytest.mark.models
def test_speech_spans_split_at_the_planted_pause(speech: SpeechClip) -> None:
    spans = speech_spans(speech.audio)
    assert len(spans) == 2
    first, second = spans
    assert first.start < 0.5
    assert speech.pause_start - 0.4 <= first.end <= speech.pause_start + 0.6
    assert speech.pause_end - 0.6 <= second.start <= speech.pause_end + 0.4
    assert second.end <= speech.duration + 1e-6
    assert speech_spans(np.zeros(SAMPLE_RATE, dtype=np.float32)) == []
    assert speech_spans(np.zeros(0, dtype=np.float32)) == []


def test_perceptual_hash_survives_reencoding_but_separates_photos() -> None:
    chelsea = photo("chelsea")
    resized = np.asarray(Image.fromarray(chelsea).resize((300, 200)), dtype=np.uint8)
    recompressed = load_image(image_bytes(resized, format="JPEG", quality=35))
    h = perceptual_hash(chelsea)
    assert len(h) == 16
    assert hash_distance(h, perceptual_hash(recompressed)) <= 6
    for other in ("coffee", "rocket", "astronaut"):
        assert hash_distance(h, perceptual_hash(photo(other))) >= 20, other
    with pytest.raises(ValueError, match="lengths"):
        hash_distance(h, h + "0")
