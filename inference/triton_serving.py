"""Server side of the Triton backend: the python-backend model every ``model.py`` re-exports.

It runs inside Triton's python stub, in the server's own environment (NumPy 1.x, see
``inference/model_repository/requirements-server.txt``), and serves a registry model with the
very runner the local backend uses (:class:`inference.local.ModelPool`), so a Triton output and
a local output of the same model version come from the same code.

For batchable models Triton's dynamic batcher hands ``execute`` several requests at once; they
are concatenated into one runner call and the outputs split back, which is where server-side
batching pays. Other models run request by request. A failing request gets an error response of
its own; the other requests of the batch still get their outputs.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inference.local import ModelPool
from inference.models.base import LocalOptions, Runner
from inference.registry import ModelSpec, Tensors, default_registry
from inference.triton_repo import MODEL_KEY_PARAMETER


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
    the server's environment (MEDIAKG_TRITON_CPU_THREADS, MEDIAKG_HAARCASCADE_DIR)."""
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
        return {t.name: pb.get_input_tensor_by_name(request, t.name).as_numpy() for t in self.spec.inputs}

    def _response(self, outputs: Tensors) -> Any:
        pb = _pb_utils()
        return pb.InferenceResponse(
            output_tensors=[pb.Tensor(n, a) for n, a in to_wire(self.spec, outputs).items()]
        )

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
        outputs: list[Tensors | Exception]
        if self.spec.batched and len(batch) > 1:
            try:
                merged = self.runner(merge_inputs(self.spec, batch))
                outputs = list(split_outputs(merged, [batch_size(self.spec, b) for b in batch]))
            except Exception:
                # Rerun one by one so only the request that broke the batch fails.
                outputs = [self._run(b) for b in batch]
        else:
            outputs = [self._run(b) for b in batch]
        for i, out in zip(ok, outputs, strict=True):
            results[i] = out
        return [self._error(r) if isinstance(r, Exception) else self._response(r) for r in results]

    def _run(self, inputs: Tensors) -> Tensors | Exception:
        try:
            return self.runner(inputs)
        except Exception as exc:
            return exc

    def finalize(self) -> None:
        """Nothing to release: the stub process exits after this."""
