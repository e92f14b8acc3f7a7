"""What each model did for a stage run, a job or an asset: calls, inputs, seconds, quality.

A stage run's models are measured by ``app.core.telemetry.cost`` (a :class:`ModelUsage` per
model, inside the stage's meter) and stored as a list of :meth:`ModelUsage.as_dict` on the
``JobStage`` row (``model_usage``). A job's or an asset's usage is the rows' usage summed per
model (:func:`summed`).

Estimated quality is the mean confidence of the outputs the stage kept of each model (a
transcript's mean token probability, the scores of OCR lines, labels and faces written), kept
as a weighted mean so that sums over runs stay exact: ``confidence_weight`` is the weight the
mean stands for (seconds of kept speech, rows written), zero when the model's outputs carry no
confidence (embeddings) or were not kept (a failed run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(slots=True)
class ModelUsage:
    """One model's part of one or more stage runs."""

    # "name:version" of the model that ran.
    model: str
    # The model's task (transcribe, ocr, labels, ...: ``inference.registry.Task``).
    task: str
    # What ``inputs`` counts: audio_seconds, images, texts or faces.
    input_unit: str
    calls: int = 0
    inputs: float = 0.0
    # Time the callers waited for the model (a batch's wait included).
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    gpu_seconds: float = 0.0
    confidence_sum: float = 0.0
    confidence_weight: float = 0.0
    # The stages whose runs these are (set when summing rows; a row names its own stage).
    stages: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        """The model's name."""
        return self.model.partition(":")[0]

    @property
    def version(self) -> str:
        """The model's version."""
        return self.model.partition(":")[2]

    @property
    def mean_confidence(self) -> float | None:
        """Mean confidence of the kept outputs (0..1), None when none carried one."""
        return self.confidence_sum / self.confidence_weight if self.confidence_weight > 0 else None

    def add(self, other: ModelUsage) -> None:
        """Count ``other`` (the same model's usage elsewhere) into this one."""
        self.calls += other.calls
        self.inputs += other.inputs
        self.wall_seconds += other.wall_seconds
        self.cpu_seconds += other.cpu_seconds
        self.gpu_seconds += other.gpu_seconds
        self.confidence_sum += other.confidence_sum
        self.confidence_weight += other.confidence_weight
        self.stages += tuple(s for s in other.stages if s not in self.stages)

    def unkept(self) -> ModelUsage:
        """This usage without its quality: the run's outputs were not kept (it failed)."""
        return replace(self, confidence_sum=0.0, confidence_weight=0.0)

    def as_dict(self) -> dict[str, Any]:
        """The stored form (an entry of ``JobStage.model_usage``)."""
        return {
            "model": self.model,
            "task": self.task,
            "calls": self.calls,
            "inputs": self.inputs,
            "input_unit": self.input_unit,
            "wall_seconds": self.wall_seconds,
            "cpu_seconds": self.cpu_seconds,
            "gpu_seconds": self.gpu_seconds,
            "mean_confidence": self.mean_confidence,
            "confidence_weight": self.confidence_weight,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any], *, stage: str | None = None) -> ModelUsage:
        """The usage of a stored entry (``stage``: the stage whose row holds it)."""
        mean = value.get("mean_confidence")
        weight = float(value.get("confidence_weight") or 0.0) if mean is not None else 0.0
        return cls(
            model=str(value["model"]),
            task=str(value.get("task", "")),
            input_unit=str(value.get("input_unit", "")),
            calls=int(value.get("calls", 0)),
            inputs=float(value.get("inputs", 0.0)),
            wall_seconds=float(value.get("wall_seconds", 0.0)),
            cpu_seconds=float(value.get("cpu_seconds", 0.0)),
            gpu_seconds=float(value.get("gpu_seconds", 0.0)),
            confidence_sum=float(mean) * weight if mean is not None else 0.0,
            confidence_weight=weight,
            stages=(stage,) if stage else (),
        )


def summed(entries: Iterable[ModelUsage]) -> list[ModelUsage]:
    """``entries`` summed per model, in the order each model first appears."""
    by_model: dict[str, ModelUsage] = {}
    for entry in entries:
        total = by_model.get(entry.model)
        if total is None:
            by_model[entry.model] = replace(entry)
        else:
            total.add(entry)
    return list(by_model.values())


def stored(rows: Iterable[tuple[str, Iterable[Mapping[str, Any]]]]) -> list[ModelUsage]:
    """The usage of stored rows ((stage name, ``model_usage``) pairs), summed per model."""
    return summed(ModelUsage.from_dict(entry, stage=stage) for stage, usage in rows for entry in usage)


def accumulated(previous: Iterable[Mapping[str, Any]], run: Iterable[ModelUsage]) -> list[dict[str, Any]]:
    """A stage row's ``model_usage`` after one more run: every run's resources count (like
    ``Job.cost``, retried runs included)."""
    return [usage.as_dict() for usage in summed([*map(ModelUsage.from_dict, previous), *run])]
