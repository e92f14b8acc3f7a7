"""Start-up refuses a Triton that disagrees with the registry, and warms up one that agrees.

A worker (``JobRuntime.start``) and the API (``inference_start_hook`` of ``mediakg serve``)
build their inference router at start-up when ``inference_url`` names Triton: readiness,
contract validation, warm-up. Each test runs a server of its own with only the fp32 MiniLM
model (the text model in use; ``triton_models`` keeps the others local), ~5 s to start:

- the matching server serves the checked-in repository;
- the mismatching one serves a copy whose config says ``max_batch_size: 32`` (a repository
  generated for another registry), which Triton loads and serves happily.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.settings import Settings
from app.entrypoints import bootstrap
from app.entrypoints.asgi import default_start_hooks
from app.entrypoints.bootstrap import InferenceStartupError, build_services
from app.entrypoints.job_system import job_runtime
from inference.breaker import BreakerState
from inference.fallback import ResilientRouter
from inference.registry import MINILM_FP32
from inference.triton.client import TritonBackend
from inference.triton.launcher import TritonEnvironment, TritonServer
from inference.triton.model_repository import REPOSITORY, triton_model_name
from jobs.registry import StageRegistry

pytestmark = [pytest.mark.triton, pytest.mark.slow]

MODEL = triton_model_name(MINILM_FP32)


def _start(env: TritonEnvironment, tmp_path: Path, repository: Path) -> TritonServer:
    return TritonServer(
        env, repository=repository, models=(MODEL,), log_path=tmp_path / "tritonserver.log"
    ).start(timeout_s=300)


@pytest.fixture
def matching_server(triton_env: TritonEnvironment, tmp_path: Path) -> Iterator[TritonServer]:
    server = _start(triton_env, tmp_path, REPOSITORY)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mismatching_server(triton_env: TritonEnvironment, tmp_path: Path) -> Iterator[TritonServer]:
    repository = tmp_path / "repository"
    shutil.copytree(REPOSITORY / MODEL, repository / MODEL, ignore=shutil.ignore_patterns("__pycache__"))
    config = repository / MODEL / "config.pbtxt"
    text, replaced = re.subn(r"max_batch_size: \d+", "max_batch_size: 32", config.read_text())
    assert replaced == 1
    config.write_text(text)
    server = _start(triton_env, tmp_path, repository)
    try:
        yield server
    finally:
        server.stop()


def on_triton(settings: Settings, server: TritonServer) -> Settings:
    return settings.model_copy(
        update={
            "inference_url": f"grpc://{server.grpc_url}",
            "triton_metrics_url": server.metrics_url,
            "triton_models": [MINILM_FP32.key],
            "triton_timeout_seconds": 60.0,
        }
    )


async def test_worker_and_api_refuse_to_start_on_a_contract_mismatch(
    mismatching_server: TritonServer, settings: Settings
) -> None:
    run_settings = on_triton(settings, mismatching_server)
    runtime = job_runtime(run_settings, registry=StageRegistry(), sweeper=False)
    with pytest.raises(InferenceStartupError) as info:
        await asyncio.to_thread(runtime.start)
    message = str(info.value)
    assert message.startswith(f"refusing to start: Triton at grpc://{mismatching_server.grpc_url}")
    assert f"{MINILM_FP32.key} (Triton model {MODEL!r}): max_batch_size 32 != registry 64" in message
    # Nothing was left running: no loop, no broker, no worker threads.
    assert [runtime.broker, runtime.services, runtime._worker, runtime._loop_thread] == [None] * 4

    # The API's first start hook refuses the same way, before the job system's hook runs.
    api = build_services(run_settings)
    try:
        hooks = default_start_hooks(run_settings)
        with pytest.raises(InferenceStartupError, match="max_batch_size 32 != registry 64"):
            await hooks[0](api)
        assert api.inference is None
    finally:
        await api.aclose()


async def test_worker_starts_validated_and_warmed_up_on_a_matching_server(
    matching_server: TritonServer, settings: Settings
) -> None:
    runtime = job_runtime(on_triton(settings, matching_server), registry=StageRegistry(), sweeper=False)
    # Local model pools are shared per process (app.entrypoints.bootstrap): earlier tests may
    # have loaded models into the one this router gets; only loads during this start count.
    loaded_before = {id(pool): len(pool.loads) for pool in bootstrap._POOLS.values()}
    await asyncio.to_thread(runtime.start)
    try:
        assert runtime.services is not None
        router = runtime.services.inference
        # Built at start-up, not at the first stage.
        assert isinstance(router, ResilientRouter)
        triton = router.fallback_backend.primary
        assert isinstance(triton, TritonBackend)
        assert router.breaker.state is BreakerState.CLOSED
        assert triton._validated == {MINILM_FP32.key}
        # Warmed up on Triton: one call answered there, and no model was loaded locally.
        stats = triton.stats[MINILM_FP32.key]
        assert (stats.calls, stats.failures) == (1, 0)
        assert len(router.pool.loads) == loaded_before.get(id(router.pool), 0), router.pool.loads
    finally:
        await asyncio.to_thread(runtime.stop, 1.0)
