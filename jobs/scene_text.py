"""A scene in words: the text the embed stage embeds as a scene's own text vector.

Shared by the embed stage (``jobs/stages/embed.py``) and ``mediakg search reindex``
(``jobs.indexing.reembed.missing_texts``), so both compute the same text, hence the same content
sha256, and a vector stored by one is reused by the other.

The text holds, one part per line:

1. what is written on the frame: the OCR lines, top to bottom, then left to right;
2. what it shows: the label names, most confident first, each followed by the other names
   ImageNet's WordNet synset gives the class (the detect stage stores the short names, and
   "Egyptian Mau" alone does not say "cat"; its synset "Egyptian cat" does);
3. who is in it: "one person" / "N people" from the frontal faces found.

Why labels and faces go into a TEXT vector although the bridge vector already holds the
labels: search fuses its retrievers with reciprocal rank fusion, which adds the scores of the
retrievers that found a moment. A video moment is found by two (its speech or caption vector
and its keyframe's bridge vector); a photo without on-screen text had no text vector and was
found by the bridge alone, so two mediocre ranks beat its first place (docs/search.md,
"Relevance"). Describing every scene in words gives each its text vector.

The text changes whenever a label, a face count or an OCR line does, so its sha256 (stored on
the Embedding row) tells the embed stage when to compute a new vector.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from app.core.enums import DetectionKind
from search.render import DetectionRow


@cache
def _synonyms() -> dict[str, tuple[str, ...]]:
    """Short ImageNet class name -> every name its WordNet synset lists (two classes share
    the short names "missile" and "sunglasses": their synonyms are merged)."""
    # Imported here: the model module loads torch, which only the processes that build scene
    # texts (workers, reindex) need.
    from inference.models.vision import imagenet_class_names, imagenet_wordnet_names

    merged: dict[str, list[str]] = {}
    for short, synset in zip(imagenet_class_names(), imagenet_wordnet_names(), strict=True):
        names = merged.setdefault(short, [])
        for name in (n.strip() for n in synset.split(",")):
            if name and name.lower() != short.lower() and name not in names:
                names.append(name)
    return {short: tuple(names) for short, names in merged.items()}


def label_text(label: str) -> str:
    """A label's name with its WordNet synonyms ("Egyptian Mau, Egyptian cat"); a name that
    is not an ImageNet class (another label model) stays as it is."""
    return ", ".join((label, *_synonyms().get(label, ())))


def people_text(faces: int) -> str:
    """The face count in words ("" for none)."""
    if faces <= 0:
        return ""
    return "one person" if faces == 1 else f"{faces} people"


def scene_text(detections: Iterable[DetectionRow]) -> str:
    """The text of one scene from its detections (every kind); "" when nothing was found."""
    ocr: list[DetectionRow] = []
    labels: dict[str, float] = {}
    faces = 0
    for detection in detections:
        if detection.kind == DetectionKind.TEXT:
            ocr.append(detection)
        elif detection.kind == DetectionKind.LABEL:
            labels[detection.label] = max(labels.get(detection.label, 0.0), detection.confidence)
        elif detection.kind == DetectionKind.FACE:
            faces += 1
    lines = [
        "\n".join(d.label for d in sorted(ocr, key=lambda d: (d.box_y or 0.0, d.box_x or 0.0))).strip(),
        "; ".join(label_text(name) for name in sorted(labels, key=lambda n: (-labels[n], n))),
        people_text(faces),
    ]
    return "\n".join(line for line in lines if line)
