"""The text a scene is embedded as (jobs.scene_text): on-screen text, labels, people."""

from __future__ import annotations

from app.core.enums import DetectionKind
from app.media.models import Detection
from jobs.scene_text import label_text, people_text, scene_text


def _detection(kind: DetectionKind, label: str, confidence: float = 0.9, y: float | None = None) -> Detection:
    return Detection(
        kind=kind, label=label, confidence=confidence, box_x=0.1 if y is not None else None, box_y=y
    )


def test_labels_carry_their_wordnet_synonyms() -> None:
    # The detect stage's short name says "Mau"; the synset says "cat".
    assert label_text("Egyptian Mau") == "Egyptian Mau, Egyptian cat"
    assert label_text("espresso") == "espresso"
    # Two ImageNet classes are both called "missile": both synsets' names are kept.
    assert label_text("missile") == "missile, projectile"
    # Not an ImageNet class (another label model): the name as it is.
    assert label_text("pangolin-ish thing") == "pangolin-ish thing"


def test_faces_are_counted_as_people() -> None:
    assert [people_text(n) for n in (0, 1, 3)] == ["", "one person", "3 people"]


def test_scene_text_is_ocr_then_labels_by_confidence_then_people() -> None:
    detections = [
        _detection(DetectionKind.FACE, "face"),
        _detection(DetectionKind.LABEL, "moped", 0.4),
        _detection(DetectionKind.TEXT, "LOWER LINE", y=0.8),
        _detection(DetectionKind.LABEL, "crash helmet", 0.7),
        _detection(DetectionKind.TEXT, "YAMAHA", y=0.2),
        _detection(DetectionKind.FACE, "face"),
        # The same label twice (two frames) is named once, at its best confidence.
        _detection(DetectionKind.LABEL, "moped", 0.3),
    ]

    assert scene_text(detections) == "YAMAHA\nLOWER LINE\ncrash helmet; moped\n2 people"


def test_on_screen_text_alone_is_unchanged() -> None:
    # Scenes with only on-screen text keep the text (and so the content hash, and the stored
    # vector) they had before labels and faces joined the scene text.
    detections = [_detection(DetectionKind.TEXT, "B", y=0.5), _detection(DetectionKind.TEXT, "A", y=0.1)]

    assert scene_text(detections) == "A\nB"
    assert scene_text([]) == ""
