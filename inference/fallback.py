"""Routing and fallback: Triton first, the local backend when Triton is down or slow.

:class:`FallbackBackend` sends each call to the primary backend (Triton) while its circuit
breaker allows it; a transient failure (unavailable, deadline exceeded) or an open breaker
sends the *same model version* to the fallback backend (local), so the output's model stamp
stays true. Permanent errors (bad input) are raised, not retried elsewhere.

:class:`ResilientRouter` adds model substitution: while the breaker is not closed, a task
whose model has an entry in ``fallback_models`` (say whisper base -> tiny.en, so the CPU keeps
up) is served by that model instead. The substitution happens where the router picks the model,
so the output is stamped with, and cached under, the model that actually produced it.

Every call is counted in :class:`InferenceMetrics` (served per backend, fallbacks per reason,
breaker transitions): a plain object tests and health checks read or subscribe to; fallbacks
are also counted in the ``mediakg.model.fallbacks`` metric (``inference.telemetry``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from inference.backend import InferenceBackend
from inference.batching import BatchingBackend
from inference.breaker import BreakerConfig, BreakerState, CircuitBreaker, Transition
from inference.cache import EmbeddingCache
from inference.config import InferenceConfig
from inference.errors import BackendUnavailableError, PermanentInferenceError
from inference.local import LocalBackend, ModelPool
from inference.registry import ModelRegistry, ModelSpec, Task, Tensors
from inference.router import InferenceRouter
from inference.telemetry import record_fallback
from inference.triton.client import TritonBackend, TritonConfig, TritonTimeoutError

log = logging.getLogger(__name__)

FallbackReason = Literal["unavailable", "timeout", "circuit_open"]


@dataclass(frozen=True, slots=True)
class Served:
    """Which backend and model version answered one call."""

    model: str
    backend: str


@dataclass
class InferenceMetrics:
    """Counters of the routing layer; ``listeners`` get every event as it happens."""

    # (model key, backend) -> calls answered.
    served: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (model key, from backend, to backend, reason) -> calls that fell back.
    fallbacks: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    # (task, configured model key, substitute model key) -> calls served by a smaller model.
    substitutions: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    transitions: list[Transition] = field(default_factory=list)
    listeners: list[Callable[[str, Mapping[str, str]], None]] = field(default_factory=list)

    def _emit(self, event: str, labels: Mapping[str, str]) -> None:
        for listener in self.listeners:
            listener(event, labels)

    def on_served(self, model: str, backend: str) -> None:
        """A call was answered by ``backend``."""
        self.served[(model, backend)] += 1
        self._emit("served", {"model": model, "backend": backend})

    def on_fallback(self, model: str, source: str, target: str, reason: FallbackReason) -> None:
        """A call meant for ``source`` went to ``target``."""
        self.fallbacks[(model, source, target, reason)] += 1
        name, _, version = model.partition(":")
        record_fallback(name, version, source, to_backend=target, to_model=model, reason=reason)
        self._emit("fallback", {"model": model, "from": source, "to": target, "reason": reason})

    def on_substitution(self, task: str, configured: str, used: str) -> None:
        """A task was served by a configured smaller model while the primary is down."""
        self.substitutions[(task, configured, used)] += 1
        self._emit("substitution", {"task": task, "configured": configured, "used": used})

    def on_transition(self, transition: Transition) -> None:
        """A breaker changed state."""
        self.transitions.append(transition)
        log.warning(
            "circuit breaker %s: %s -> %s (%s)",
            transition.breaker,
            transition.old,
            transition.new,
            transition.reason,
        )
        self._emit("breaker", {"backend": transition.breaker, "state": str(transition.new)})

    def fallback_total(self) -> int:
        """Calls that fell back, all reasons."""
        return sum(self.fallbacks.values())


class FallbackBackend:
    """Primary backend behind a circuit breaker, fallback backend behind it."""

    def __init__(
        self,
        primary: InferenceBackend,
        fallback: InferenceBackend,
        *,
        breaker: CircuitBreaker | None = None,
        metrics: InferenceMetrics | None = None,
        on_primary: Callable[[ModelSpec], bool] | None = None,
    ) -> None:
        self.primary = primary
        # Which models the primary serves at all; the rest go to the fallback as a matter of
        # course (not counted as fallbacks).
        self.on_primary = on_primary or (lambda spec: True)
        self.fallback = fallback
        self.metrics = metrics or InferenceMetrics()
        self.breaker = breaker or CircuitBreaker(primary.name)
        if self.breaker.on_transition is None:
            self.breaker.on_transition = self.metrics.on_transition
        self.name = f"{primary.name}+{fallback.name}"
        # The backend that answered the latest call of each model key (for logs and tests).
        self.last_served: dict[str, Served] = {}

    async def infer(self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        """Primary when the breaker allows and it answers; fallback otherwise."""
        if not self.on_primary(spec):
            outputs = await self.fallback.infer(spec, inputs)
            self._served(spec, self.fallback.name)
            return outputs
        reason: FallbackReason = "circuit_open"
        if self.breaker.allow():
            try:
                outputs = await self.primary.infer(spec, inputs)
            except BackendUnavailableError as exc:
                reason = "timeout" if isinstance(exc, TritonTimeoutError | TimeoutError) else "unavailable"
                self.breaker.record_failure(reason)
                log.info(
                    "%s failed for %s (%s): falling back to %s",
                    self.primary.name,
                    spec.key,
                    exc,
                    self.fallback.name,
                )
            except PermanentInferenceError:
                # The input is at fault, not the backend; the local model would refuse it too.
                self.breaker.release_probe()
                raise
            else:
                self.breaker.record_success()
                self._served(spec, self.primary.name)
                return outputs
        self.metrics.on_fallback(spec.key, self.primary.name, self.fallback.name, reason)
        outputs = await self.fallback.infer(spec, inputs)
        self._served(spec, self.fallback.name)
        return outputs

    def _served(self, spec: ModelSpec, backend: str) -> None:
        self.last_served[spec.key] = Served(spec.key, backend)
        self.metrics.on_served(spec.key, backend)

    async def is_ready(self, spec: ModelSpec) -> bool:
        """Ready when either backend can serve ``spec``."""
        return await self.primary.is_ready(spec) or await self.fallback.is_ready(spec)

    async def aclose(self) -> None:
        """Close both backends."""
        try:
            await self.primary.aclose()
        finally:
            await self.fallback.aclose()


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """Triton, breaker and fallback settings (``inference.factory.routing_config`` builds it
    from the service's settings)."""

    triton: TritonConfig = field(default_factory=TritonConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    # Registry key -> registry key of a smaller model to use while Triton is down.
    fallback_models: Mapping[str, str] = field(default_factory=dict)
    # Registry keys deployed on Triton; None means every model the repository has. Others run
    # locally (a deployment may put only the heavy models on the GPUs).
    triton_models: frozenset[str] | None = None
    # Validate and warm up on Triton at start(); False defers both to the first call.
    validate_at_start: bool = True


class ResilientRouter(InferenceRouter):
    """The router with Triton as primary backend, local as fallback, and model substitution."""

    def __init__(
        self,
        config: InferenceConfig | None = None,
        *,
        routing: RoutingConfig | None = None,
        primary: InferenceBackend | None = None,
        pool: ModelPool | None = None,
        registry: ModelRegistry | None = None,
        cache: EmbeddingCache | None = None,
        metrics: InferenceMetrics | None = None,
    ) -> None:
        self.routing = routing or RoutingConfig()
        self.metrics = metrics or InferenceMetrics()
        self._primary = primary
        super().__init__(config, pool=pool, registry=registry, cache=cache)
        assert isinstance(self.backend, FallbackBackend)  # built by _make_backend below
        self.fallback_backend: FallbackBackend = self.backend
        for configured, substitute in self.routing.fallback_models.items():
            # Fail at start-up, not mid-outage, on a typo in the map.
            self.registry.get(*configured.split(":", 1))
            self.registry.get(*substitute.split(":", 1))

    def _make_backend(self) -> InferenceBackend:
        local: InferenceBackend = LocalBackend(
            self.pool,
            threads=self.config.threads,
            max_concurrency=self.config.max_concurrency,
            cpu_budget=self.config.cpu_budget,
        )
        if self.config.batching:
            local = BatchingBackend(
                local, max_items=self.config.batch_max_items, max_delay_ms=self.config.batch_max_delay_ms
            )
        # Triton batches server-side (dynamic_batching in each config.pbtxt): no client batcher.
        primary = self._primary or TritonBackend(self.routing.triton, registry=self.registry)
        self._primary = primary
        breaker = CircuitBreaker(primary.name, self.routing.breaker)
        return FallbackBackend(
            primary, local, breaker=breaker, metrics=self.metrics, on_primary=self._on_triton
        )

    def _on_triton(self, spec: ModelSpec) -> bool:
        wanted = self.routing.triton_models
        serves = (
            self._primary.serves(spec)
            if isinstance(self._primary, TritonBackend)
            else "triton" in spec.backends
        )
        return serves and (wanted is None or spec.key in wanted)

    @property
    def breaker(self) -> CircuitBreaker:
        """The primary backend's breaker."""
        return self.fallback_backend.breaker

    def _substitute(self, task: Task, requested: ModelSpec | None = None) -> tuple[ModelSpec, ModelSpec]:
        """(configured or requested model, model to use): the configured substitute while the
        primary is down."""
        spec = requested if requested is not None else super().model_for(task)
        substitute = self.routing.fallback_models.get(spec.key)
        if substitute is None or self.breaker.state is BreakerState.CLOSED:
            return spec, spec
        return spec, self.registry.get(*substitute.split(":", 1))

    def model_for(self, task: Task) -> ModelSpec:
        """The configured model, or its configured substitute while the primary is down."""
        return self._substitute(task)[1]

    def _model_for_call(self, task: Task, requested: ModelSpec | None = None) -> ModelSpec:
        # Counted per call actually served by the substitute, not per question asked.
        spec, used = self._substitute(task, requested)
        if used is spec:
            return spec
        self.metrics.on_substitution(task, spec.key, used.key)
        backend = self.fallback_backend
        record_fallback(
            spec.name,
            spec.version,
            backend.primary.name,
            to_backend=backend.fallback.name,
            to_model=used.key,
            reason="substitution",
        )
        return used

    async def start(self) -> None:
        """Validate the models in use on Triton and warm them up; fail loudly on a contract mismatch.

        An unreachable Triton is not fatal (calls fall back until it answers and the breaker
        closes); a Triton that serves something else under a model's name is.
        """
        primary = self.fallback_backend.primary
        if not isinstance(primary, TritonBackend) or not self.routing.validate_at_start:
            return
        specs = [s for s in self._specs_in_use() if primary.serves(s) and self._on_triton(s)]
        try:
            await primary.start(specs)
        except BackendUnavailableError as exc:
            log.warning("Triton unavailable at start-up, serving locally until it answers: %s", exc)
            for _ in range(self.routing.breaker.failure_threshold):
                self.breaker.record_failure("unavailable at start-up")

    def _specs_in_use(self) -> list[ModelSpec]:
        specs: dict[str, ModelSpec] = {}
        for ref in self.models_in_use().values():
            spec = self.registry.get(ref.name, ref.version)
            for key in spec.derived_from or (spec.key,):
                specs[key] = self.registry.get(*key.split(":", 1))
        return list(specs.values())
