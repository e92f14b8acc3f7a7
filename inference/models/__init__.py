"""Local runners: load a model from an installed package and run it on tensors (sync, CPU).

Each runner is a callable ``(inputs) -> outputs`` over the tensors of its
:class:`~inference.registry.ModelSpec`. Runners are built lazily by
:class:`~inference.local.ModelPool` and called from worker threads, never on the event loop.
"""

from __future__ import annotations

import os

# Weights come from installed packages only; these make hub-aware libraries (transformers,
# huggingface_hub) fail fast instead of trying the network when a path is wrong. They must be
# set before those libraries are first imported, which happens lazily inside the runners.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
