"""Text-embedding throughput for 64 concurrent single-item requests, three ways, in one run,
beside the baseline measured in the same run:

0. offline max batch (the baseline): the same model's loaded runner called directly, in this
   process, on the 64 texts as one batch of the model's ``max_batch_size`` (64), no backend,
   with torch on one thread and on every core; the faster of the two is the baseline;
1. unbatched local: every request is its own model call (at most the model's concurrency
   limit at once);
2. micro-batched local: the same requests through the client-side batcher (inference.batching:
   up to the model's max batch; 5 ms window while the model is idle, continuous batching while
   it runs), the served path of ``local://``;
3. Triton with dynamic batching: the requests go one by one over gRPC to the bundled
   tritonserver, whose dynamic batcher (5 ms queue delay) merges them; the batch sizes are read
   from the server's model statistics.

Each mode runs ROUNDS rounds of 64 requests after a warm-up; the table shows requests per
second (median round), the ratio to the offline rate (target for the micro-batched path:
>= 0.85) and the batch sizes the model actually ran. Usage:
``.venv/bin/python benchmarks/inference_bench.py [--model fp32|int8] [--rounds 9] [--no-triton]``.
Needs ``make triton-env`` for the third mode (it is skipped with a note otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from app.core.settings import get_settings
from app.entrypoints.bootstrap import triton_environment
from inference.backend import InferenceBackend, strings
from inference.batching import BatchingBackend
from inference.config import InferenceConfig
from inference.local import LocalBackend, ModelPool
from inference.registry import MINILM_FP32, MINILM_INT8, ModelSpec
from inference.router import InferenceRouter
from inference.triton.client import TritonBackend, TritonConfig
from inference.triton.launcher import TritonEnvironmentError, TritonServer
from inference.triton.model_repository import triton_model_name

REQUESTS = 64


def sentences(round_no: int) -> list[str]:
    # Distinct, realistic-length texts; no cache sits in front of the backends measured here.
    return [
        f"Round {round_no}, clip {i}: the presenter explains how the {i % 7}th scene was shot at dusk."
        for i in range(REQUESTS)
    ]


async def rounds(backend: InferenceBackend, spec: ModelSpec, count: int) -> list[float]:
    """Requests per second of each round of 64 concurrent single-item calls."""
    await backend.infer(spec, {"text": strings(["warm up"])})
    rates = []
    for r in range(count):
        texts = sentences(r)
        started = time.perf_counter()
        await asyncio.gather(*(backend.infer(spec, {"text": strings([t])}) for t in texts))
        rates.append(REQUESTS / (time.perf_counter() - started))
    return rates


def distribution(sizes: Counter[int] | dict[int, int]) -> str:
    return ", ".join(f"{size}x{count}" for size, count in sorted(sizes.items()))


def diff(after: dict[int, int], before: dict[int, int]) -> dict[int, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}


def offline_round(pool: ModelPool, spec: ModelSpec, round_no: int, threads: int) -> float:
    """Texts per second of the loaded runner on the round's 64 texts as one batch, with torch
    on ``threads`` threads (all cores is the library default an offline script gets; the
    service runs one thread per call and several calls side by side)."""
    import torch

    texts = sentences(round_no)
    runner = pool.get(spec)
    service_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        started = time.perf_counter()
        for start in range(0, REQUESTS, spec.max_batch_size):
            runner({"text": strings(texts[start : start + spec.max_batch_size])})
        return REQUESTS / (time.perf_counter() - started)
    finally:
        torch.set_num_threads(service_threads)


async def served_round(backend: InferenceBackend, spec: ModelSpec, round_no: int) -> float:
    """Requests per second of the round's 64 texts as 64 concurrent single-item calls."""
    texts = sentences(round_no)
    started = time.perf_counter()
    await asyncio.gather(*(backend.infer(spec, {"text": strings([t])}) for t in texts))
    return REQUESTS / (time.perf_counter() - started)


async def offline_beside_served(
    pool: ModelPool, backend: InferenceBackend, spec: ModelSpec, count: int
) -> tuple[dict[int, list[float]], list[float]]:
    """The baseline and the micro-batched path in alternating rounds: on a shared, loaded
    machine the load drifts within seconds, and alternating exposes both to the same drift."""
    pool.get(spec)({"text": strings(["warm up"])})
    await backend.infer(spec, {"text": strings(["warm up"])})
    # One thread, and every core: on a loaded machine torch's busy-waiting OpenMP pool can make
    # the all-core run the slower one; the baseline is whichever is faster.
    offline: dict[int, list[float]] = {threads: [] for threads in sorted({1, os.cpu_count() or 1})}
    served = []
    for r in range(count):
        for threads, rates in offline.items():
            rates.append(offline_round(pool, spec, r, threads))
        served.append(await served_round(backend, spec, r))
    return offline, served


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", choices=["fp32", "int8"], default="fp32")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--no-triton", action="store_true", help="skip the Triton mode")
    args = parser.parse_args()
    spec = MINILM_FP32 if args.model == "fp32" else MINILM_INT8
    # The served path as the service builds it from its settings (CPU budget, batcher).
    config = InferenceConfig.from_settings(get_settings(), text_embedding=args.model)
    pool = ModelPool(config.local_options())
    results: list[tuple[str, list[float], str]] = []
    count = args.rounds

    async def measure(
        name: str, make: Callable[[], InferenceBackend], sizes: Callable[[InferenceBackend], Awaitable[str]]
    ) -> None:
        backend = make()
        try:
            rates = await rounds(backend, spec, count)
            results.append((name, rates, await sizes(backend)))
        finally:
            await backend.aclose()

    async def local_sizes(backend: InferenceBackend) -> str:
        assert isinstance(backend, LocalBackend)
        # Minus the warm-up call.
        return distribution(Counter(backend.stats[spec.key].batch_sizes[1:]))

    async def batched_sizes(backend: InferenceBackend) -> str:
        assert isinstance(backend, BatchingBackend)
        sizes = Counter(backend.batch_sizes[spec.key])
        sizes[1] -= 1  # the warm-up call
        return distribution(+sizes)

    router = InferenceRouter(config, pool=pool)
    batching = router.backend
    try:
        offline, served = await offline_beside_served(pool, batching, spec, count)
    finally:
        await router.aclose()
    for threads, rates in offline.items():
        results.append(
            (
                f"offline, one batch of {spec.max_batch_size}, {threads} thread(s)",
                rates,
                str(spec.max_batch_size),
            )
        )
    results.append(("local, micro-batched (served path)", served, await batched_sizes(batching)))
    await measure("local, unbatched (one call per request)", lambda: LocalBackend(pool), local_sizes)

    notes = []
    try:
        if args.no_triton:
            raise TritonEnvironmentError("--no-triton")
        env = triton_environment(get_settings())
    except TritonEnvironmentError as exc:
        notes.append(f"Triton skipped: {exc}")
    else:
        server = TritonServer(
            env, models=(triton_model_name(spec),), log_path=Path("var/bench-tritonserver.log")
        )
        server.start(timeout_s=300)
        try:
            before: dict[int, int] = {}

            async def triton_sizes(backend: InferenceBackend) -> str:
                assert isinstance(backend, TritonBackend)
                return distribution(diff(await backend.batch_statistics(spec), before))

            def make_triton() -> InferenceBackend:
                return TritonBackend(
                    TritonConfig(url=f"grpc://{server.grpc_url}", timeout_s=120.0, warmup=False)
                )

            probe = make_triton()
            assert isinstance(probe, TritonBackend)
            await probe.start([spec])
            # Server-side counts include the warm-up call of rounds(): count from here.
            await probe.infer(spec, {"text": strings(["warm up"])})
            before = await probe.batch_statistics(spec)
            before = {k: v + (1 if k == 1 else 0) for k, v in before.items()} if before else {1: 1}
            await probe.aclose()
            await measure("Triton, dynamic batching (5 ms queue delay), gRPC", make_triton, triton_sizes)
        finally:
            server.stop()

    lines = [
        "## Embedding micro-batching (inference_bench.py)\n",
        f"{REQUESTS} concurrent single-item requests, {spec.key}, {count} rounds\n",
        "| mode | requests/s (median) | min | max | x best offline | batch sizes run (size x count) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    baseline = max(statistics.median(rates) for rates in offline.values())
    for name, rates, sizes in results:
        median, low, high = statistics.median(rates), min(rates), max(rates)
        lines.append(
            f"| {name} | {median:.1f} | {low:.1f} | {high:.1f} | {median / baseline:.2f} | {sizes} |"
        )
    sys.stdout.write("\n".join([*lines, "", *notes]) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
