"""Text-embedding throughput for 64 concurrent single-item requests, three ways, in one run.

1. unbatched local: every request is its own model call (at most the model's concurrency
   limit at once);
2. micro-batched local: the same requests through the client-side batcher
   (inference.batching, up to 32 items or 5 ms);
3. Triton with dynamic batching: the requests go one by one over gRPC to the bundled
   tritonserver, whose dynamic batcher (5 ms queue delay) merges them; the batch sizes are read
   from the server's model statistics.

Each mode runs ROUNDS rounds of 64 requests after a warm-up; the table shows requests per
second (median round) and the batch sizes the model actually ran. Usage:
``.venv/bin/python benchmarks/inference_bench.py [--model fp32|int8] [--rounds 5]``.
Needs ``make triton-env`` for the third mode (it is skipped with a note otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
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
from inference.local import LocalBackend, ModelPool
from inference.registry import MINILM_FP32, MINILM_INT8, ModelSpec
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", choices=["fp32", "int8"], default="fp32")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    spec = MINILM_FP32 if args.model == "fp32" else MINILM_INT8
    pool = ModelPool()
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

    await measure("local, unbatched", lambda: LocalBackend(pool), local_sizes)
    await measure(
        "local, micro-batched (32 items / 5 ms)",
        lambda: BatchingBackend(LocalBackend(pool), max_items=32, max_delay_ms=5.0),
        batched_sizes,
    )

    try:
        env = triton_environment(get_settings())
    except TritonEnvironmentError as exc:
        sys.stdout.write(f"Triton skipped: {exc}\n")
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
        f"\n{REQUESTS} concurrent single-item requests, {spec.key}, {count} rounds\n",
        "| mode | requests/s (median) | min | max | batch sizes run (size x count) |",
        "|---|---:|---:|---:|---|",
    ]
    for name, rates, sizes in results:
        median, low, high = statistics.median(rates), min(rates), max(rates)
        lines.append(f"| {name} | {median:.1f} | {low:.1f} | {high:.1f} | {sizes} |")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
