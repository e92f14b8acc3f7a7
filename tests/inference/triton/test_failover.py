"""Triton goes away mid-run: calls keep completing through the fallback, outputs are stamped
with the model that made them, fallbacks are counted, and the breaker re-closes once the
server is back.

These tests start servers of their own (only the two MiniLM models, for a fast start) because
they kill them.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator

import numpy as np
import pytest

from inference.backend import strings
from inference.breaker import BreakerConfig, BreakerState, CircuitBreaker
from inference.cache import EmbeddingCache
from inference.config import InferenceConfig
from inference.fallback import ResilientRouter, RoutingConfig
from inference.local import LocalBackend, ModelPool
from inference.registry import MINILM_FP32, MINILM_INT8
from inference.triton.client import TritonBackend, TritonConfig
from inference.triton.launcher import TritonEnvironment, TritonServer
from inference.triton.model_repository import triton_model_name
from inference.types import Embeddings

pytestmark = [pytest.mark.triton, pytest.mark.models, pytest.mark.slow]

OPEN_SECONDS = 1.0


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state, read afresh (a property read mypy would otherwise keep narrowed)."""
    return breaker.state


@pytest.fixture
def small_server(
    triton_env: TritonEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TritonServer]:
    server = TritonServer(
        triton_env,
        models=(triton_model_name(MINILM_FP32), triton_model_name(MINILM_INT8)),
        log_path=tmp_path_factory.mktemp("triton-failover") / "tritonserver.log",
    )
    server.start(timeout_s=300)
    try:
        yield server
    finally:
        server.stop()


async def expected_vectors(pool: ModelPool, result: Embeddings, texts: list[str]) -> None:
    """The vectors are what the stamped model computes locally: the stamp tells the truth."""
    spec = MINILM_FP32 if result.model == MINILM_FP32.ref else MINILM_INT8
    assert result.model == spec.ref
    local = LocalBackend(pool)
    try:
        want = (await local.infer(spec, {"text": strings(texts)}))["embedding"]
    finally:
        await local.aclose()
    np.testing.assert_allclose(result.vectors.astype(np.float64), want.astype(np.float64), atol=1e-4, rtol=0)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
async def test_server_dies_mid_run_and_comes_back(
    small_server: TritonServer, model_pool: ModelPool, sig: signal.Signals
) -> None:
    routing = RoutingConfig(
        triton=TritonConfig(
            url=f"grpc://{small_server.grpc_url}", timeout_s=5.0, retries=1, retry_backoff_s=0.02
        ),
        breaker=BreakerConfig(failure_threshold=2, open_seconds=OPEN_SECONDS),
        # While Triton is down, text embedding runs the int8 model on the CPU.
        fallback_models={MINILM_FP32.key: MINILM_INT8.key},
        # This server only has the MiniLM models; the rest of the router's models run locally.
        triton_models=frozenset({MINILM_FP32.key, MINILM_INT8.key}),
    )
    # A cache of its own: a cached vector would answer without asking any backend.
    router = ResilientRouter(InferenceConfig(), routing=routing, pool=model_pool, cache=EmbeddingCache())
    primary = router.fallback_backend.primary
    assert isinstance(primary, TritonBackend)
    try:
        await router.start()
        first = await router.embed_text(["before the outage"])
        assert first.model == MINILM_FP32.ref
        assert router.fallback_backend.last_served[MINILM_FP32.key].backend == "triton"

        # A steady stream of calls; the server is killed while they run.
        batches = [[f"document {i} line {j}" for j in range(3)] for i in range(40)]

        async def stream() -> list[Embeddings]:
            out = []
            for texts in batches:
                out.append(await router.embed_text(texts))
                await asyncio.sleep(0.02)
            return out

        running = asyncio.create_task(stream())
        await asyncio.sleep(0.3)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: small_server.stop(sig=sig))
        results = await running

        assert len(results) == len(batches)  # every call completed
        # Open, or half-open if the open period already ran out: not closed while Triton is down.
        assert state_of(router.breaker) is not BreakerState.CLOSED
        stamps = [r.model for r in results]
        assert MINILM_INT8.ref in stamps, "no call was served by the fallback model"
        for texts, result in zip(batches, results, strict=True):
            await expected_vectors(model_pool, result, texts)
        metrics = router.metrics
        assert metrics.fallback_total() >= 1
        assert metrics.substitutions[("embed_text", MINILM_FP32.key, MINILM_INT8.key)] >= 1
        assert metrics.served[(MINILM_INT8.key, "local")] >= 1

        # The server returns on the same ports; after the open period a probe re-closes the breaker.
        await loop.run_in_executor(None, lambda: small_server.start(timeout_s=300))
        await asyncio.sleep(OPEN_SECONDS)
        for attempt in range(20):
            after = await router.embed_text([f"after the outage {attempt}"])
            if state_of(router.breaker) is BreakerState.CLOSED and after.model == MINILM_FP32.ref:
                break
            await asyncio.sleep(OPEN_SECONDS)
        assert state_of(router.breaker) is BreakerState.CLOSED
        again = await router.embed_text(["served by triton again"])
        assert again.model == MINILM_FP32.ref
        assert router.fallback_backend.last_served[MINILM_FP32.key].backend == "triton"
        states = [str(t.new) for t in metrics.transitions]
        assert states[0] == "open"
        assert states[-1] == "closed"
    finally:
        await router.aclose()
