"""Server side of the Triton backend: the python-backend model every ``model.py`` re-exports.

It runs inside Triton's python stub, in the server's own environment (NumPy 1.x, see
``inference/model_repository/requirements-server.txt``), and serves a registry model with the
very runner the local backend uses (:class:`inference.local.ModelPool`), so a Triton output and
a local output of the same model version come from the same code.

Triton's dynamic batcher hands ``execute`` several requests at once, for every model. For
batchable models they are concatenated into one runner call and the outputs split back, which
is where server-side batching pays. One-item-per-call models (images and audio of any size,
``allow_ragged_batch``) keep each request's tensors apart: every request carries a leading batch
dim of 1, stripped here, and the requests of a batch run one after another; what the batch
saves there is only the per-execution overhead of the stub. A failing request gets an error
response of its own; the other requests of the batch still get their outputs.

Every response also carries ``mediakg_compute_seconds``: the runner time spent on that request
(its share, by items, of a merged batch), which the client charges as GPU time on GPU instances.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inference.local import ModelPool
from inference.models.base import LocalOptions, Runner
from inference.registry import ModelSpec, Tensors, default_registry
from inference.triton.model_repository import COMPUTE_OUTPUT, MODEL_KEY_PARAMETER


def _pb_utils() -> Any:
    # Only importable inside the stub (it ships beside the python backend), hence lazily.
    import triton_python_backend_utils  # type: ignore[import-not-found]

    return triton_python_backend_utils


def parameters(model_config: Mapping[str, Any]) -> dict[str, str]:
    """The ``parameters`` of a model config as plain strings."""
    raw = model_config.get("parameters") or {}
    return {key: str(value.get("string_value", "")) for key, value in raw.items()}


def spec_from_config(model_config: Mapping[str, Any]) -> ModelSpec:
    """The registry model a Triton model config serves (by its ``mediakg_model`` parameter)."""
    key = parameters(model_config).get(MODEL_KEY_PARAMETER)
    if not key or ":" not in key:
        raise ValueError(f"model config {model_config.get('name')!r} has no {MODEL_KEY_PARAMETER} parameter")
    name, version = key.split(":", 1)
    return default_registry().get(name, version)


def local_options() -> LocalOptions:
    """Runner options: the local backend's defaults (thread policy included), with overrides from
    the server's environment (MEDIAKG_TRITON_CPU_THREADS, MEDIAKG_HAARCASCADE_DIR). Read with
    os.environ, not Settings: this runs in the server's environment, which has no
    pydantic-settings; docs/configuration.md lists them apart from the settings."""
    options = LocalOptions()
    threads = os.environ.get("MEDIAKG_TRITON_CPU_THREADS")
    if threads:
        options = dataclasses.replace(options, cpu_threads=int(threads))
    haar = os.environ.get("MEDIAKG_HAARCASCADE_DIR")
    if haar:
        options = dataclasses.replace(options, haarcascade_dir=Path(haar))
    return options


def split_outputs(outputs: Tensors, sizes: Sequence[int]) -> list[Tensors]:
    """Split batched outputs back into per-request outputs of the given batch sizes."""
    parts: list[Tensors] = []
    offset = 0
    for size in sizes:
        parts.append({name: array[offset : offset + size] for name, array in outputs.items()})
        offset += size
    return parts


def merge_inputs(spec: ModelSpec, requests: Sequence[Mapping[str, npt.NDArray[np.generic]]]) -> Tensors:
    """Concatenate per-request inputs along the batch dim."""
    if len(requests) == 1:
        return dict(requests[0])
    return {t.name: np.concatenate([r[t.name] for r in requests], axis=0) for t in spec.inputs}


def batch_size(spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]]) -> int:
    """Items in one request of a batchable model (the leading dim of its first input)."""
    return int(inputs[spec.inputs[0].name].shape[0])


def to_wire(spec: ModelSpec, outputs: Tensors) -> Tensors:
    """Outputs in the dtypes of the contract; strings as ``bytes`` (what the stub serialises)."""
    wire: Tensors = {}
    for tensor in spec.outputs:
        array = outputs[tensor.name]
        if tensor.dtype == "BYTES":
            flat = np.empty(array.size, dtype=object)
            flat[:] = [v.encode("utf-8") if isinstance(v, str) else v for v in array.reshape(-1).tolist()]
            wire[tensor.name] = flat.reshape(array.shape)
        else:
            wire[tensor.name] = np.ascontiguousarray(array, dtype=tensor.numpy_dtype())
    return wire


def unwrap_inputs(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
    """Strip the leading batch dim of 1 a one-item model's request carries on the wire."""
    items: Tensors = {}
    for name, array in inputs.items():
        if array.ndim == 0 or array.shape[0] != 1:
            raise ValueError(f"input {name!r} has shape {list(array.shape)}: send one item per request")
        items[name] = array[0]
    return items


def request_seconds(seconds: float, sizes: Sequence[int]) -> list[float]:
    """Each request's share of one merged execution's ``seconds``, by its items (``sizes``)."""
    total = sum(sizes) or 1
    return [seconds * size / total for size in sizes]


def compute_tensor(spec: ModelSpec, outputs: Tensors, seconds: float) -> npt.NDArray[np.float32]:
    """``mediakg_compute_seconds`` of one response: per item (rows summing to ``seconds``) when batched."""
    if spec.wraps_item:
        return np.full((1, 1), seconds, dtype=np.float32)
    rows = int(outputs[spec.outputs[0].name].shape[0])
    return np.full((rows, 1), seconds / max(rows, 1), dtype=np.float32)


class TritonPythonModel:
    """Serves one registry model version inside Triton's python backend."""

    spec: ModelSpec
    runner: Runner

    def initialize(self, args: Mapping[str, str]) -> None:
        """Load the runner now, so the model reports READY only once it can answer."""
        config = json.loads(args["model_config"])
        self.spec = spec_from_config(config)
        self.runner = ModelPool(local_options()).get(self.spec)

    def _inputs(self, request: Any) -> Tensors:
        pb = _pb_utils()
        arrays = {t.name: pb.get_input_tensor_by_name(request, t.name).as_numpy() for t in self.spec.inputs}
        return unwrap_inputs(arrays) if self.spec.wraps_item else arrays

    def _response(self, outputs: Tensors, seconds: float) -> Any:
        pb = _pb_utils()
        wire = to_wire(self.spec, outputs)
        if self.spec.wraps_item:
            wire = {name: array[np.newaxis] for name, array in wire.items()}
        wire[COMPUTE_OUTPUT.name] = compute_tensor(self.spec, outputs, seconds)
        return pb.InferenceResponse(output_tensors=[pb.Tensor(n, a) for n, a in wire.items()])

    def _error(self, exc: Exception) -> Any:
        pb = _pb_utils()
        return pb.InferenceResponse(output_tensors=[], error=pb.TritonError(f"{type(exc).__name__}: {exc}"))

    def execute(self, requests: Sequence[Any]) -> list[Any]:
        """One response per request, in request order."""
        results: list[Tensors | Exception] = []
        for request in requests:
            try:
                results.append(self._inputs(request))
            except Exception as exc:  # a malformed request fails alone
                results.append(exc)
        ok = [i for i, r in enumerate(results) if not isinstance(r, Exception)]
        batch = [r for r in results if not isinstance(r, Exception)]
        outputs: list[tuple[Tensors, float] | Exception]
        if self.spec.batched and len(batch) > 1:
            try:
                started = time.perf_counter()
                merged = self.runner(merge_inputs(self.spec, batch))
                elapsed = time.perf_counter() - started
                sizes = [batch_size(self.spec, b) for b in batch]
                outputs = list(
                    zip(split_outputs(merged, sizes), request_seconds(elapsed, sizes), strict=True)
                )
            except Exception:
                # Rerun one by one so only the request that broke the batch fails.
                outputs = [self._run(b) for b in batch]
        else:
            outputs = [self._run(b) for b in batch]
        responses: list[Any] = [self._error(r) if isinstance(r, Exception) else None for r in results]
        for i, out in zip(ok, outputs, strict=True):
            responses[i] = self._error(out) if isinstance(out, Exception) else self._response(*out)
        return responses

    def _run(self, inputs: Tensors) -> tuple[Tensors, float] | Exception:
        try:
            started = time.perf_counter()
            outputs = self.runner(inputs)
            return outputs, time.perf_counter() - started
        except Exception as exc:
            return exc

    def finalize(self) -> None:
        """Nothing to release: the stub process exits after this."""
