"""CLIP from a configured local directory (transformers ``CLIPModel``, tokenizer, image processor).

No installed package ships CLIP weights, so this path runs only when settings name a directory
(``save_pretrained`` layout). Its version is a fingerprint of the directory's config and
weights, so swapping the directory's contents starts a new index generation.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inference.models.base import LocalOptions, Runner, as_strings
from inference.registry import ModelSpec, Tensors, clip_specs

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Reading whole multi-GB weight files at start-up is not worth it; size plus the first and
# last MiB changes whenever the weights do in practice.
_FINGERPRINT_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """What the router needs to register a CLIP directory."""

    name: str
    version: str
    dim: int

    def specs(self) -> tuple[ModelSpec, ModelSpec]:
        """The text-tower and image-tower specs."""
        return clip_specs(self.name, self.version, self.dim)


def inspect_clip_dir(path: Path) -> ClipInfo:
    """Name, version fingerprint and embedding size of a CLIP directory, without loading it."""
    config_path = path / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found: not a saved CLIPModel directory")
    config_bytes = config_path.read_bytes()
    config = json.loads(config_bytes)
    if config.get("model_type") != "clip":
        raise ValueError(f"{path} holds a {config.get('model_type')!r} model, not clip")
    digest = hashlib.sha256(config_bytes)
    weights = [path / name for name in _WEIGHT_FILES if (path / name).is_file()]
    if not weights:
        raise FileNotFoundError(f"{path} has no model.safetensors or pytorch_model.bin")
    for weight in weights:
        size = weight.stat().st_size
        digest.update(str(size).encode())
        with weight.open("rb") as handle:
            digest.update(handle.read(_FINGERPRINT_BYTES))
            handle.seek(max(0, size - _FINGERPRINT_BYTES))
            digest.update(handle.read(_FINGERPRINT_BYTES))
    dim = int(config.get("projection_dim", 512))
    return ClipInfo(name=f"clip-{path.name}", version=digest.hexdigest()[:12], dim=dim)


_lock = threading.Lock()
_loaded: dict[Path, tuple[Any, Any, Any]] = {}


def _load(path: Path) -> tuple[Any, Any, Any]:
    # The text and image runners share one model object per directory.
    from transformers import CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

    with _lock:
        if path not in _loaded:
            model: Any = CLIPModel.from_pretrained(str(path), local_files_only=True)
            model.eval()
            tokenizer = CLIPTokenizer.from_pretrained(str(path), local_files_only=True)
            # The Pillow image processor by name: transformers' default CLIP processor wants
            # torchvision, which does not import beside torch 2.13. Same resize/crop/normalise.
            images = CLIPImageProcessorPil.from_pretrained(str(path), local_files_only=True)
            _loaded[path] = (model, tokenizer, images)
        return _loaded[path]


def _require_dir(options: LocalOptions) -> Path:
    if options.clip_model_dir is None:
        raise ValueError("CLIP runners need LocalOptions.clip_model_dir")
    return options.clip_model_dir.resolve()


def _normalise(features: Any) -> npt.NDArray[np.float32]:
    import torch

    # transformers 5 may wrap projections in a model output; older versions return the tensor.
    tensor = features if isinstance(features, torch.Tensor) else features.pooler_output
    return torch.nn.functional.normalize(tensor, dim=-1).numpy().astype(np.float32)


def load_clip_text(spec: ModelSpec, options: LocalOptions) -> Runner:
    """CLIP text tower."""
    import torch

    model, tokenizer, _ = _load(_require_dir(options))
    dim = spec.output("embedding").dims[0]

    def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        texts = as_strings(inputs["text"])
        if not texts:
            return {"embedding": np.zeros((0, dim), dtype=np.float32)}
        batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        with torch.inference_mode():
            features = model.get_text_features(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            )
        return {"embedding": _normalise(features)}

    return run


def load_clip_image(spec: ModelSpec, options: LocalOptions) -> Runner:
    """CLIP image tower on one RGB uint8 image."""
    import torch

    model, _, image_processor = _load(_require_dir(options))

    def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        image = np.ascontiguousarray(inputs["image"], dtype=np.uint8)
        pixels = image_processor(images=[image], return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            features = model.get_image_features(pixel_values=pixels)
        return {"embedding": _normalise(features)[0]}

    return run
