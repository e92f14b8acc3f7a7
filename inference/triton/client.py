"""The Triton backend: the :class:`~inference.backend.InferenceBackend` protocol over tritonclient.

gRPC asyncio by default (``grpc://host:8001``), HTTP asyncio as an option (``http://host:8000``).
At :meth:`TritonBackend.start` it waits for the server, reads each model's metadata and config
and checks them against the registry contract (names, dtypes, dims, batch size and the registry
key the model declares), failing loudly on any mismatch, then warms every model up with a call
built from its contract, and records each model's instance kind: on a ``KIND_GPU`` model every
call charges the server's compute seconds for it (the ``mediakg_compute_seconds`` output every
model of the repository returns, see :mod:`inference.triton.model_repository`) to the running stage's GPU
cost. Each call has a deadline; UNAVAILABLE is retried within it; what is
still transient after that raises :class:`~inference.errors.BackendUnavailableError`, which
the fallback layer (:mod:`inference.fallback`) turns into a local call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from inference.errors import BackendUnavailableError, ContractError, InferenceError, PermanentInferenceError
from inference.registry import ModelRegistry, ModelSpec, Tensors, TensorSpec, default_registry
from inference.telemetry import model_call
from inference.triton.model_repository import (
    COMPUTE_OUTPUT,
    CONFIG_DTYPES,
    MODEL_KEY_PARAMETER,
    triton_model_name,
    wire_dims,
    wire_outputs,
)

log = logging.getLogger(__name__)

Protocol_ = Literal["grpc", "http"]


class TritonTimeoutError(BackendUnavailableError):
    """A call to Triton missed its deadline."""


class TritonModelError(PermanentInferenceError):
    """The model ran and failed on this input (the same input would fail again)."""


class ModelContractMismatchError(ContractError):
    """What Triton serves under a model's name differs from the registry contract."""


@dataclass(frozen=True, slots=True)
class TritonConfig:
    """How to reach Triton and how long to wait for it."""

    url: str = "grpc://127.0.0.1:8001"
    # Deadline of one call, retries included, unless ``timeouts`` names the model or task.
    timeout_s: float = 10.0
    # Per task, model name or model key (most specific wins): whisper on a long track needs more.
    timeouts: Mapping[str, float] = field(default_factory=dict)
    # Extra attempts after an UNAVAILABLE answer, with exponential backoff from retry_backoff_s.
    retries: int = 2
    retry_backoff_s: float = 0.05
    # How long start() waits for the server and its models to become ready.
    startup_timeout_s: float = 60.0
    warmup: bool = True

    @property
    def protocol(self) -> Protocol_:
        """grpc or http, from the URL scheme."""
        scheme = self.url.split("://", 1)[0] if "://" in self.url else "grpc"
        if scheme == "grpc":
            return "grpc"
        if scheme == "http":
            return "http"
        raise ValueError(f"unsupported Triton URL scheme in {self.url!r} (grpc:// or http://)")

    @property
    def address(self) -> str:
        """host:port without the scheme (what tritonclient wants)."""
        return self.url.split("://", 1)[-1].rstrip("/")

    def timeout_for(self, spec: ModelSpec) -> float:
        """The deadline of one call to ``spec``."""
        for key in (spec.key, spec.name, spec.task):
            if key in self.timeouts:
                return float(self.timeouts[key])
        return self.timeout_s


class _Client(Protocol):
    """What the backend needs from a tritonclient asyncio client (both protocols fit)."""

    async def server_ready(self, deadline_s: float) -> bool: ...
    async def model_ready(self, name: str, deadline_s: float) -> bool: ...
    async def metadata(self, name: str, deadline_s: float) -> dict[str, Any]: ...
    async def config(self, name: str, deadline_s: float) -> dict[str, Any]: ...
    async def statistics(self, name: str, deadline_s: float) -> dict[str, Any]: ...
    async def infer(self, name: str, inputs: list[Any], deadline_s: float) -> Any: ...
    def make_input(self, name: str, shape: list[int], datatype: str) -> Any: ...
    async def close(self) -> None: ...


class _GrpcClient:
    def __init__(self, address: str) -> None:
        import tritonclient.grpc as grpcclient
        import tritonclient.grpc.aio as grpcaio

        self._module = grpcclient
        keepalive = grpcaio.KeepAliveOptions()
        self._client = grpcaio.InferenceServerClient(
            address,
            # tritonclient's defaults (passing channel_args replaces them) ...
            channel_args=[
                ("grpc.max_send_message_length", grpcaio.MAX_GRPC_MESSAGE_SIZE),
                ("grpc.max_receive_message_length", grpcaio.MAX_GRPC_MESSAGE_SIZE),
                ("grpc.keepalive_time_ms", keepalive.keepalive_time_ms),
                ("grpc.keepalive_timeout_ms", keepalive.keepalive_timeout_ms),
                ("grpc.keepalive_permit_without_calls", keepalive.keepalive_permit_without_calls),
                ("grpc.http2.max_pings_without_data", keepalive.http2_max_pings_without_data),
                # ... plus subchannels of this channel's own. gRPC core shares a subchannel, and
                # its reconnect backoff, between channels with the same target and arguments
                # (grpc/grpc#21240): the fresh client _reset_client makes after an outage would
                # inherit a backoff grown during the outage and keep refusing a restarted
                # server (measured: every call of the first 2.5 s after a restart refused).
                ("grpc.use_local_subchannel_pool", 1),
            ],
        )

    async def server_ready(self, deadline_s: float) -> bool:
        return bool(await self._client.is_server_ready(client_timeout=deadline_s))

    async def model_ready(self, name: str, deadline_s: float) -> bool:
        return bool(await self._client.is_model_ready(name, client_timeout=deadline_s))

    async def metadata(self, name: str, deadline_s: float) -> dict[str, Any]:
        return dict(await self._client.get_model_metadata(name, as_json=True, client_timeout=deadline_s))

    async def config(self, name: str, deadline_s: float) -> dict[str, Any]:
        # gRPC wraps the config in {"config": ...}; HTTP does not.
        response = await self._client.get_model_config(name, as_json=True, client_timeout=deadline_s)
        return dict(response.get("config", response))

    async def statistics(self, name: str, deadline_s: float) -> dict[str, Any]:
        return dict(
            await self._client.get_inference_statistics(name, as_json=True, client_timeout=deadline_s)
        )

    async def infer(self, name: str, inputs: list[Any], deadline_s: float) -> Any:
        return await self._client.infer(name, inputs, client_timeout=deadline_s)

    def make_input(self, name: str, shape: list[int], datatype: str) -> Any:
        return self._module.InferInput(name, shape, datatype)

    async def close(self) -> None:
        await self._client.close()


class _HttpClient:
    def __init__(self, address: str) -> None:
        import tritonclient.http as httpclient
        import tritonclient.http.aio as httpaio

        self._module = httpclient
        self._client = httpaio.InferenceServerClient(address)

    # tritonclient's HTTP asyncio client has no per-call timeout: the caller's asyncio.timeout
    # (see TritonBackend._call) bounds every call instead.
    async def server_ready(self, deadline_s: float) -> bool:
        return bool(await self._client.is_server_ready())

    async def model_ready(self, name: str, deadline_s: float) -> bool:
        return bool(await self._client.is_model_ready(name))

    async def metadata(self, name: str, deadline_s: float) -> dict[str, Any]:
        return dict(await self._client.get_model_metadata(name))

    async def config(self, name: str, deadline_s: float) -> dict[str, Any]:
        return dict(await self._client.get_model_config(name))

    async def statistics(self, name: str, deadline_s: float) -> dict[str, Any]:
        return dict(await self._client.get_inference_statistics(name))

    async def infer(self, name: str, inputs: list[Any], deadline_s: float) -> Any:
        return await self._client.infer(name, inputs)

    def make_input(self, name: str, shape: list[int], datatype: str) -> Any:
        return self._module.InferInput(name, shape, datatype)

    async def close(self) -> None:
        await self._client.close()


# gRPC status codes and HTTP statuses that mean "not now" rather than "never".
_UNAVAILABLE = {"StatusCode.UNAVAILABLE", "StatusCode.RESOURCE_EXHAUSTED", "502", "503", "504"}
_DEADLINE = {"StatusCode.DEADLINE_EXCEEDED", "StatusCode.CANCELLED"}
# A python stub that crashed is restarted by the server: the request is worth another try.
_STUB_DOWN = ("Stub process", "is not healthy", "Failed to connect")


def _classify(exc: BaseException, model: str) -> InferenceError:
    """Map a transport failure to the model layer's error kinds."""
    from tritonclient.utils import InferenceServerException

    if isinstance(exc, TimeoutError):
        return TritonTimeoutError(f"triton {model}: deadline exceeded")
    if isinstance(exc, InferenceServerException):
        status = str(exc.status() or "")
        message = str(exc.message() or "")
        if status in _DEADLINE:
            return TritonTimeoutError(f"triton {model}: {status} {message}")
        if status in _UNAVAILABLE or any(marker in message for marker in _STUB_DOWN):
            return BackendUnavailableError(f"triton {model}: {status} {message}")
        if "unknown model" in message or "is not ready" in message or status == "StatusCode.NOT_FOUND":
            return BackendUnavailableError(f"triton {model}: {message}")
        return TritonModelError(f"triton {model}: {status} {message}")
    # Connection refused or reset, DNS, aiohttp client errors: the server is not there.
    if isinstance(exc, OSError) or type(exc).__module__.startswith("aiohttp"):
        return BackendUnavailableError(f"triton {model}: {type(exc).__name__}: {exc}")
    if isinstance(exc, InferenceError):
        return exc
    return TritonModelError(f"triton {model}: {type(exc).__name__}: {exc}")


def _is_retryable(error: InferenceError) -> bool:
    return isinstance(error, BackendUnavailableError) and not isinstance(error, TritonTimeoutError)


def _dims(values: Iterable[Any]) -> tuple[int, ...]:
    # MessageToJson renders int64 as strings.
    return tuple(int(v) for v in values)


def contract_mismatches(spec: ModelSpec, metadata: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """Every way the served model differs from ``spec``; empty when they agree."""
    problems: list[str] = []
    # Triton batches every model (render_config): each tensor has a leading batch dim.
    batch_prefix = (-1,)
    max_batch = int(config.get("max_batch_size", 0))
    if max_batch != spec.triton_max_batch_size:
        problems.append(f"max_batch_size {max_batch} != registry {spec.triton_max_batch_size}")
    params = config.get("parameters") or {}
    declared = (params.get(MODEL_KEY_PARAMETER) or {}).get("string_value")
    if declared != spec.key:
        problems.append(f"{MODEL_KEY_PARAMETER} parameter {declared!r} != {spec.key!r}")
    for kind, tensors, meta_key, config_key in (
        ("input", spec.inputs, "inputs", "input"),
        ("output", wire_outputs(spec), "outputs", "output"),
    ):
        served_meta = {t["name"]: t for t in metadata.get(meta_key, [])}
        served_config = {t["name"]: t for t in config.get(config_key, [])}
        wanted = {t.name for t in tensors}
        for extra in sorted(set(served_meta) - wanted):
            problems.append(f"{kind} {extra!r} is served but not in the registry")
        for tensor in tensors:
            meta = served_meta.get(tensor.name)
            if meta is None:
                problems.append(f"{kind} {tensor.name!r} is missing")
                continue
            if meta.get("datatype") != tensor.dtype:
                problems.append(f"{kind} {tensor.name!r} datatype {meta.get('datatype')} != {tensor.dtype}")
            shape = _dims(meta.get("shape", []))
            expected = batch_prefix + wire_dims(tensor)
            if shape != expected:
                problems.append(f"{kind} {tensor.name!r} shape {list(shape)} != {list(expected)}")
            conf = served_config.get(tensor.name, {})
            if conf.get("data_type") not in (None, CONFIG_DTYPES[tensor.dtype]):
                problems.append(f"{kind} {tensor.name!r} config data_type {conf.get('data_type')}")
            if not tensor.dims:
                # The runner wants a per-item scalar: the config must reshape the wire's [1] to [].
                reshape = conf.get("reshape")
                if reshape is None or _dims(reshape.get("shape", [])):
                    problems.append(f"{kind} {tensor.name!r} is not reshaped from [1] to []")
    return problems


def warmup_inputs(spec: ModelSpec) -> Tensors:
    """A small valid input for every tensor of ``spec`` (one item when batched)."""
    inputs: Tensors = {}
    for tensor in spec.inputs:
        shape = tuple(32 if d == -1 else d for d in tensor.dims)
        if spec.batched:
            shape = (1, *shape)
        if tensor.dtype == "BYTES":
            array = np.empty(shape, dtype=object)
            array.fill("warm up")
        else:
            array = np.zeros(shape, dtype=tensor.numpy_dtype())
        inputs[tensor.name] = array
    return inputs


def _decode_strings(array: npt.NDArray[np.generic]) -> npt.NDArray[np.object_]:
    out = np.empty(array.shape, dtype=object)
    out.flat[:] = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array.flat]
    return out


def instance_kinds(config: Mapping[str, Any]) -> set[str]:
    """The ``instance_group`` kinds of a served model config (KIND_CPU, KIND_GPU, ...)."""
    return {str(group.get("kind", "KIND_AUTO")) for group in config.get("instance_group") or []}


def _to_wire(tensor: TensorSpec, array: npt.NDArray[np.generic], spec: ModelSpec) -> npt.NDArray[np.generic]:
    # A per-item scalar travels as [.., 1] (Triton needs rank >= 1; the config reshapes it back).
    if spec.wraps_item:
        item = array if tensor.dims else array.reshape((1,))
        return item[np.newaxis]
    return array if tensor.dims else array.reshape((-1, 1))


def _from_wire(
    tensor: TensorSpec, array: npt.NDArray[np.generic], spec: ModelSpec
) -> npt.NDArray[np.generic]:
    if tensor.dtype == "BYTES":
        array = _decode_strings(array)
    if spec.wraps_item:
        if array.ndim == 0 or array.shape[0] != 1:
            raise TritonModelError(f"{spec.key}: output {tensor.name} has shape {array.shape}, want [1, ...]")
        array = array[0]
    if not tensor.dims:
        array = array.reshape((-1,) if spec.batched else ())
    return array


@dataclass(slots=True)
class TritonCallStats:
    """Client-side counters per model key."""

    calls: int = 0
    items: int = 0
    retries: int = 0
    failures: int = 0
    seconds: float = 0.0
    # Server execution time of the successful calls (the mediakg_compute_seconds outputs).
    compute_seconds: float = 0.0


class TritonBackend:
    """Serves registry models from a Triton server."""

    name = "triton"

    def __init__(
        self,
        config: TritonConfig | None = None,
        *,
        registry: ModelRegistry | None = None,
        validate_tensors: bool = True,
    ) -> None:
        self.config = config or TritonConfig()
        self.registry = registry or default_registry()
        self._validate_tensors = validate_tensors
        self._client: _Client | None = None
        self._validated: set[str] = set()
        # Registry key -> the model runs on GPU instances (read from its config by validate()).
        self.on_gpu: dict[str, bool] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._stale: list[_Client] = []
        self.stats: dict[str, TritonCallStats] = {}

    @property
    def client(self) -> _Client:
        """The tritonclient wrapper, created on first use (in the running event loop)."""
        if self._client is None:
            address = self.config.address
            self._client = _GrpcClient(address) if self.config.protocol == "grpc" else _HttpClient(address)
        return self._client

    # --- start-up ----------------------------------------------------------------------------

    async def start(self, specs: Iterable[ModelSpec] | None = None) -> None:
        """Wait for the server, validate every model against the registry, warm them up.

        Raises :class:`ModelContractMismatchError` listing every mismatch, or
        :class:`BackendUnavailableError` when the server is not ready within the start-up timeout.
        """
        chosen = list(specs) if specs is not None else [s for s in self.registry if self.serves(s)]
        await self.wait_ready(self.config.startup_timeout_s)
        problems: list[str] = []
        for spec in chosen:
            try:
                await self.validate(spec)
            except ModelContractMismatchError as exc:
                problems.append(str(exc))
        if problems:
            raise ModelContractMismatchError(
                "Triton does not serve the registry contract:\n" + "\n".join(problems)
            )
        if self.config.warmup:
            for spec in chosen:
                started = time.perf_counter()
                await self.infer(spec, warmup_inputs(spec))
                log.info("triton warm-up %s took %.3fs", spec.key, time.perf_counter() - started)

    def serves(self, spec: ModelSpec) -> bool:
        """True for registry models that have a Triton model (derived ones are composed by the router)."""
        return "triton" in spec.backends and not spec.derived_from

    async def wait_ready(self, timeout_s: float) -> None:
        """Poll server readiness until ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        last: BaseException | None = None
        while True:
            try:
                if await self._call(lambda c: c.server_ready(1.0), "server", 2.0):
                    return
            except BackendUnavailableError as exc:
                last = exc
            if time.monotonic() >= deadline:
                raise BackendUnavailableError(
                    f"Triton at {self.config.url} not ready after {timeout_s:.0f}s: {last}"
                )
            await asyncio.sleep(0.25)

    async def validate(self, spec: ModelSpec) -> None:
        """Compare the served model's metadata and config with ``spec``; raise on any difference."""
        name = triton_model_name(spec)
        timeout = self.config.timeout_s
        if not await self._call(lambda c: c.model_ready(name, timeout), name, timeout):
            raise ModelContractMismatchError(f"{spec.key}: Triton model {name!r} is not ready")
        metadata = await self._call(lambda c: c.metadata(name, timeout), name, timeout)
        config = await self._call(lambda c: c.config(name, timeout), name, timeout)
        problems = contract_mismatches(spec, metadata, config)
        if problems:
            raise ModelContractMismatchError(f"{spec.key} (Triton model {name!r}): " + "; ".join(problems))
        # Any GPU group makes the model a GPU model: its compute time is charged as GPU time.
        self.on_gpu[spec.key] = "KIND_GPU" in instance_kinds(config)
        self._validated.add(spec.key)

    # --- calls -------------------------------------------------------------------------------

    async def _call(self, op: Any, model: str, deadline_s: float) -> Any:
        """Run ``op(client)`` within ``deadline_s`` seconds; map failures to the model layer's errors."""
        client = self.client
        try:
            async with asyncio.timeout(deadline_s):
                return await op(client)
        except Exception as exc:
            error = _classify(exc, model)
            if _is_retryable(error):
                self._reset_client(client)
            raise error from exc

    def _reset_client(self, client: _Client) -> None:
        """Drop a client whose server went away; the next call connects afresh.

        A gRPC channel whose server vanished reconnects with exponential backoff (up to minutes),
        failing calls fast meanwhile: a restarted server would sit unused for that long. The old
        client is closed once calls still in flight on it have had their deadline.
        """
        if self._client is not client:
            return
        self._client = None

        self._stale.append(client)

        async def close_later() -> None:
            await asyncio.sleep(self.config.timeout_s)
            if client in self._stale:
                self._stale.remove(client)
                await client.close()

        task = asyncio.get_running_loop().create_task(close_later())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def infer(self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        """Run ``spec`` on Triton within its deadline, retrying UNAVAILABLE answers."""
        batch = spec.validate_inputs(inputs) if self._validate_tensors else None
        if spec.key not in self._validated:
            # A backend used without start() still refuses to talk to a mismatched model.
            await self.validate(spec)
        # One span and latency sample per call, retries included (what the stage waits).
        with model_call(spec.name, spec.version, self.name, batch_size=batch or 1) as call:
            outputs, compute_s = await self._infer(spec, inputs, batch)
            if self.on_gpu.get(spec.key, False):
                # The server's execution time of this request (its share of a batch), not the
                # call's wall time: that adds queueing and transfer, and every request of a
                # batch would be charged the whole batch.
                call.gpu_seconds = compute_s
            return outputs

    async def _infer(
        self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]], batch: int | None
    ) -> tuple[Tensors, float]:
        name = triton_model_name(spec)
        stats = self.stats.setdefault(spec.key, TritonCallStats())
        timeout = self.config.timeout_for(spec)
        deadline = time.monotonic() + timeout
        attempt = 0
        started = time.perf_counter()
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TritonTimeoutError(f"triton {name}: deadline of {timeout:.1f}s spent on retries")
                request = self._request(spec, inputs)
                result = await self._call(
                    lambda c, r=request, s=remaining: c.infer(name, r, s), name, remaining
                )
                break
            except InferenceError as error:
                if _is_retryable(error) and attempt < self.config.retries:
                    attempt += 1
                    stats.retries += 1
                    delay = self.config.retry_backoff_s * (2 ** (attempt - 1))
                    await asyncio.sleep(max(0.0, min(delay, deadline - time.monotonic())))
                    continue
                stats.failures += 1
                raise
        outputs = {t.name: _from_wire(t, result.as_numpy(t.name), spec) for t in spec.outputs}
        compute = result.as_numpy(COMPUTE_OUTPUT.name)
        compute_s = float(np.sum(compute, dtype=np.float64)) if compute is not None else 0.0
        stats.calls += 1
        stats.items += batch if batch is not None else 1
        stats.seconds += time.perf_counter() - started
        stats.compute_seconds += compute_s
        if self._validate_tensors:
            spec.validate_outputs(outputs, batch)
        return outputs, compute_s

    def _request(self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]]) -> list[Any]:
        request = []
        for tensor in spec.inputs:
            array = _to_wire(tensor, np.asarray(inputs[tensor.name]), spec)
            item = self.client.make_input(tensor.name, list(array.shape), tensor.dtype)
            item.set_data_from_numpy(array)
            request.append(item)
        return request

    async def is_ready(self, spec: ModelSpec) -> bool:
        """True when the server answers that the model is ready (False on any failure)."""
        if not self.serves(spec):
            return False
        name = triton_model_name(spec)
        try:
            return bool(await self._call(lambda c: c.model_ready(name, 2.0), name, 2.0))
        except InferenceError:
            return False

    async def batch_statistics(self, spec: ModelSpec) -> dict[int, int]:
        """Executions per batch size the server ran for ``spec`` (Triton's model statistics)."""
        name = triton_model_name(spec)
        stats = await self._call(lambda c: c.statistics(name, 5.0), name, 5.0)
        sizes: dict[int, int] = {}
        for model in stats.get("model_stats", []):
            for entry in model.get("batch_stats", []):
                count = int((entry.get("compute_infer") or {}).get("count", 0))
                sizes[int(entry["batch_size"])] = sizes.get(int(entry["batch_size"]), 0) + count
        return dict(sorted(sizes.items()))

    async def aclose(self) -> None:
        """Close the connection."""
        for task in list(self._closing):
            task.cancel()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        while self._stale:
            await self._stale.pop().close()
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
