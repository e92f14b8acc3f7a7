"""Circuit breaker states and the fallback backend, with fake backends and a fake clock."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pytest

from inference.backend import strings
from inference.breaker import BreakerConfig, BreakerState, CircuitBreaker
from inference.errors import BackendUnavailableError, ContractError
from inference.fallback import FallbackBackend, InferenceMetrics
from inference.local import ModelPool
from inference.registry import MINILM_FP32, ModelSpec, Tensors
from inference.triton.client import TritonTimeoutError


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state, read afresh (a property read mypy would otherwise keep narrowed)."""
    return breaker.state


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Fake:
    """A backend that answers with a constant vector or raises what it is told to."""

    def __init__(self, name: str, value: float) -> None:
        self.name = name
        self.value = value
        self.error: Exception | None = None
        self.calls = 0

    async def infer(self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        self.calls += 1
        if self.error is not None:
            raise self.error
        n = len(inputs["text"])
        return {"embedding": np.full((n, 384), self.value, dtype=np.float32)}

    async def is_ready(self, spec: ModelSpec) -> bool:
        return self.error is None

    async def aclose(self) -> None:
        return None


def test_breaker_opens_after_threshold_and_half_opens_after_wait() -> None:
    clock = Clock()
    breaker = CircuitBreaker("triton", BreakerConfig(failure_threshold=3, open_seconds=5.0), clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert state_of(breaker) is BreakerState.CLOSED
    breaker.record_failure()
    assert state_of(breaker) is BreakerState.OPEN
    assert not breaker.allow()
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.2
    assert state_of(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()  # the one probe
    assert not breaker.allow()  # others wait for its verdict
    breaker.record_success()
    assert state_of(breaker) is BreakerState.CLOSED
    assert [(t.old, t.new) for t in breaker.transitions] == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]


def test_failed_probe_reopens_for_a_full_period() -> None:
    clock = Clock()
    breaker = CircuitBreaker("triton", BreakerConfig(failure_threshold=1, open_seconds=2.0), clock=clock)
    breaker.record_failure()
    clock.now += 2.0
    assert breaker.allow()
    breaker.record_failure("still down")
    assert state_of(breaker) is BreakerState.OPEN
    clock.now += 1.9
    assert not breaker.allow()


def test_a_success_resets_the_consecutive_count() -> None:
    breaker = CircuitBreaker("triton", BreakerConfig(failure_threshold=2))
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert state_of(breaker) is BreakerState.CLOSED


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        BreakerConfig(failure_threshold=0)


def _text(n: int = 2) -> dict[str, npt.NDArray[np.generic]]:
    return {"text": strings([f"t{i}" for i in range(n)])}


async def test_fallback_serves_the_same_model_locally_and_counts_it() -> None:
    clock = Clock()
    primary, local = Fake("triton", 1.0), Fake("local", 2.0)
    metrics = InferenceMetrics()
    backend = FallbackBackend(
        primary,
        local,
        breaker=CircuitBreaker("triton", BreakerConfig(failure_threshold=2, open_seconds=5.0), clock=clock),
        metrics=metrics,
    )
    assert (await backend.infer(MINILM_FP32, _text()))["embedding"][0, 0] == 1.0
    primary.error = BackendUnavailableError("connection refused")
    assert (await backend.infer(MINILM_FP32, _text()))["embedding"][0, 0] == 2.0
    primary.error = TritonTimeoutError("deadline")
    assert (await backend.infer(MINILM_FP32, _text()))["embedding"][0, 0] == 2.0
    assert state_of(backend.breaker) is BreakerState.OPEN
    # Open: Triton is not even tried.
    assert (await backend.infer(MINILM_FP32, _text()))["embedding"][0, 0] == 2.0
    assert primary.calls == 3
    key = MINILM_FP32.key
    assert metrics.fallbacks == {
        (key, "triton", "local", "unavailable"): 1,
        (key, "triton", "local", "timeout"): 1,
        (key, "triton", "local", "circuit_open"): 1,
    }
    assert metrics.served == {(key, "triton"): 1, (key, "local"): 3}
    assert backend.last_served[key].backend == "local"
    # Back up: after the open period one probe goes through and closes the breaker.
    primary.error = None
    clock.now += 5.0
    assert (await backend.infer(MINILM_FP32, _text()))["embedding"][0, 0] == 1.0
    assert state_of(backend.breaker) is BreakerState.CLOSED
    assert [str(t.new) for t in metrics.transitions] == ["open", "half_open", "closed"]


async def test_permanent_errors_are_raised_not_hidden_by_the_fallback() -> None:
    primary, local = Fake("triton", 1.0), Fake("local", 2.0)
    backend = FallbackBackend(primary, local)
    primary.error = ContractError("bad input")
    with pytest.raises(ContractError):
        await backend.infer(MINILM_FP32, _text())
    assert local.calls == 0
    assert state_of(backend.breaker) is BreakerState.CLOSED
    assert backend.metrics.fallback_total() == 0


async def test_listeners_see_every_event() -> None:
    events: list[tuple[str, dict[str, str]]] = []
    metrics = InferenceMetrics(listeners=[lambda e, labels: events.append((e, dict(labels)))])
    primary, local = Fake("triton", 1.0), Fake("local", 2.0)
    primary.error = BackendUnavailableError("down")
    backend = FallbackBackend(
        primary, local, breaker=CircuitBreaker("triton", BreakerConfig(failure_threshold=1)), metrics=metrics
    )
    await backend.infer(MINILM_FP32, _text(1))
    assert [e for e, _ in events] == ["breaker", "fallback", "served"]
    assert events[1][1] == {
        "model": MINILM_FP32.key,
        "from": "triton",
        "to": "local",
        "reason": "unavailable",
    }


def test_routing_config_from_service_settings() -> None:
    from app.core.settings import Settings
    from inference.factory import routing_config

    settings = Settings(
        inference_url="grpc://triton:8001",
        inference_fallback_models={"whisper-base:ct2-int8-1": "whisper-tiny.en:ct2-int8-1"},
        breaker_open_seconds=2.5,
    )
    config = routing_config(settings)
    assert config.triton.protocol == "grpc"
    assert config.triton.address == "triton:8001"
    assert config.triton.timeouts["transcribe"] == 120.0
    assert config.breaker.open_seconds == 2.5
    assert config.fallback_models == {"whisper-base:ct2-int8-1": "whisper-tiny.en:ct2-int8-1"}
    assert config.triton_models is None


@pytest.mark.models
async def test_unreachable_triton_at_start_serves_locally(model_pool: ModelPool) -> None:
    from app.core.settings import Settings
    from inference.cache import EmbeddingCache
    from inference.config import InferenceConfig
    from inference.factory import build_router
    from inference.fallback import ResilientRouter
    from inference.shadow import ShadowBackend
    from inference.triton.launcher import free_port

    settings = Settings(
        inference_url=f"grpc://127.0.0.1:{free_port()}",
        triton_startup_timeout_seconds=0.5,
        shadow_models={MINILM_FP32.key: "all-MiniLM-L6-v2:int8-1"},
        shadow_sample_rate=0.0,
    )
    router = build_router(InferenceConfig(), settings, pool=model_pool, cache=EmbeddingCache())
    assert isinstance(router, ResilientRouter)
    assert isinstance(router.backend, ShadowBackend)
    try:
        await router.start()  # nothing listens: logged, breaker opened, not fatal
        assert state_of(router.breaker) is BreakerState.OPEN
        result = await router.embed_text(["served locally"])
        assert result.model == MINILM_FP32.ref
        assert router.metrics.fallbacks[(MINILM_FP32.key, "triton", "local", "circuit_open")] == 1
    finally:
        await router.aclose()


def test_local_url_builds_the_plain_router() -> None:
    from app.core.settings import Settings
    from inference.config import InferenceConfig
    from inference.factory import build_router
    from inference.fallback import ResilientRouter
    from inference.router import InferenceRouter

    router = build_router(InferenceConfig(), Settings(inference_url="local://"))
    assert type(router) is InferenceRouter
    assert not isinstance(router, ResilientRouter)
