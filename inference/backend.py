"""The contract every inference backend implements (local models, Triton, the fallback pair).

A backend runs one model version on named numpy tensors, exactly as the model's
:class:`~inference.registry.ModelSpec` declares them; it knows nothing of tasks, caching or
typed results (the router does that), so a Triton backend is a thin gRPC translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from inference.registry import ModelSpec, Tensors


@runtime_checkable
class InferenceBackend(Protocol):
    """Runs registered models on tensors.

    ``infer`` takes the inputs the spec declares (with the batch dim when
    ``spec.max_batch_size > 0``) and returns every declared output, same batch size. It must
    not block the event loop, must be safe to call concurrently, and raises
    :class:`~inference.errors.BackendUnavailableError` when the failure is transient.
    """

    name: str

    async def infer(self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        """Run ``spec`` on ``inputs`` and return its outputs."""
        ...

    async def is_ready(self, spec: ModelSpec) -> bool:
        """True when ``spec`` can be served now (loaded, or loadable without error)."""
        ...

    async def aclose(self) -> None:
        """Release threads, connections and sessions."""
        ...


def strings(values: list[str] | tuple[str, ...]) -> npt.NDArray[np.object_]:
    """A BYTES tensor (numpy object array of ``str``) from Python strings."""
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array
