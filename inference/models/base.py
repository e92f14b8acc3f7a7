"""Types shared by the local runners."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inference.registry import ModelSpec, Tensors

Runner = Callable[[Mapping[str, npt.NDArray[np.generic]]], Tensors]


@dataclass(frozen=True, slots=True)
class LocalOptions:
    """What local runners may be told beyond their spec."""

    # Threads one model call may use; 0 leaves each library's default (all cores). See
    # InferenceConfig.cpu_threads for why the service default is 1.
    cpu_threads: int = 1
    # CTranslate2 (whisper) threads per call: its pool does not busy-wait like torch's, and on
    # this 2-core CPU whisper base ran at real-time factor 0.18 with 2 threads, 0.59 with 1.
    whisper_threads: int = 2
    # Directory of a transformers CLIPModel + processor; only the CLIP runners read it.
    clip_model_dir: Path | None = None
    # Debian opencv-data's cascade directory (OpenCV wheels no longer ship cv2.data).
    haarcascade_dir: Path = Path("/usr/share/opencv4/haarcascades")


RunnerFactory = Callable[[ModelSpec, LocalOptions], Runner]


def as_strings(array: npt.NDArray[np.generic]) -> list[str]:
    """Python strings from a BYTES tensor that may hold ``str`` or ``bytes`` items."""
    return [item.decode("utf-8") if isinstance(item, bytes) else str(item) for item in array.tolist()]
