"""The registry contract checks, the generated repository, deadlines and retries."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from inference.errors import BackendUnavailableError
from inference.registry import MINILM_FP32, RAPIDOCR, WHISPER_BASE, TensorSpec, default_registry
from inference.triton.client import (
    ModelContractMismatchError,
    TritonBackend,
    TritonConfig,
    TritonTimeoutError,
    contract_mismatches,
    instance_kinds,
    warmup_inputs,
)
from inference.triton.launcher import TritonServer, free_port
from inference.triton.model_repository import (
    REPOSITORY,
    render_config,
    served_specs,
    stale_files,
    triton_model_name,
)


def served_minilm() -> tuple[dict[str, Any], dict[str, Any]]:
    """Metadata and config as Triton's JSON renders them for the fp32 MiniLM model."""
    metadata = {
        "name": "all-MiniLM-L6-v2__fp32-1",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": ["-1", "1"]}],
        "outputs": [
            {"name": "embedding", "datatype": "FP32", "shape": ["-1", "384"]},
            {"name": "mediakg_compute_seconds", "datatype": "FP32", "shape": ["-1", "1"]},
        ],
    }
    config = {
        "max_batch_size": 64,
        "input": [{"name": "text", "data_type": "TYPE_STRING", "dims": ["1"], "reshape": {}}],
        "output": [
            {"name": "embedding", "data_type": "TYPE_FP32", "dims": ["384"]},
            {"name": "mediakg_compute_seconds", "data_type": "TYPE_FP32", "dims": ["1"]},
        ],
        "instance_group": [{"name": "all-MiniLM-L6-v2__fp32-1_0", "kind": "KIND_CPU", "count": 1}],
        "parameters": {"mediakg_model": {"string_value": "all-MiniLM-L6-v2:fp32-1"}},
    }
    return metadata, config


def test_matching_contract_has_no_problems() -> None:
    assert contract_mismatches(MINILM_FP32, *served_minilm()) == []


def test_every_kind_of_mismatch_is_reported() -> None:
    metadata, config = served_minilm()
    metadata["outputs"][0]["shape"] = ["-1", "768"]
    metadata["inputs"][0]["datatype"] = "FP32"
    metadata["inputs"].append({"name": "extra", "datatype": "FP32", "shape": ["-1", "1"]})
    config["max_batch_size"] = 8
    config["parameters"]["mediakg_model"]["string_value"] = "all-MiniLM-L6-v2:int8-1"
    del config["input"][0]["reshape"]
    problems = contract_mismatches(MINILM_FP32, metadata, config)
    assert problems == [
        "max_batch_size 8 != registry 64",
        "mediakg_model parameter 'all-MiniLM-L6-v2:int8-1' != 'all-MiniLM-L6-v2:fp32-1'",
        "input 'extra' is served but not in the registry",
        "input 'text' datatype FP32 != BYTES",
        "input 'text' is not reshaped from [1] to []",
        "output 'embedding' shape [-1, 768] != [-1, 384]",
    ]


def test_missing_output_is_reported() -> None:
    metadata, config = served_minilm()
    metadata["outputs"] = metadata["outputs"][1:]
    assert contract_mismatches(MINILM_FP32, metadata, config) == ["output 'embedding' is missing"]


def test_a_repository_without_the_compute_output_is_stale() -> None:
    metadata, config = served_minilm()
    metadata["outputs"] = metadata["outputs"][:1]
    assert contract_mismatches(MINILM_FP32, metadata, config) == [
        "output 'mediakg_compute_seconds' is missing"
    ]


def test_checked_in_repository_matches_the_registry() -> None:
    assert stale_files() == [], "run: python -m inference.triton.model_repository"
    names = sorted(p.name for p in REPOSITORY.iterdir() if p.is_dir())
    assert names == sorted(triton_model_name(s) for s in served_specs(default_registry()))
    assert len(names) == 10


def test_every_model_gets_dynamic_batching() -> None:
    for spec in served_specs(default_registry()):
        config = render_config(spec)
        assert "dynamic_batching {" in config, spec.key
        assert spec.triton_max_batch_size > 0, spec.key
        assert f"max_batch_size: {spec.triton_max_batch_size}\n" in config, spec.key
    # Batched models are batched whole; one-item models by request, with shapes that may differ.
    assert "max_batch_size: 64\n" in render_config(MINILM_FP32)
    assert "allow_ragged_batch" not in render_config(MINILM_FP32)
    assert "max_batch_size: 8\n" in render_config(RAPIDOCR)
    assert "allow_ragged_batch: true" in render_config(RAPIDOCR)
    assert "allow_ragged_batch: true" in render_config(WHISPER_BASE)


def test_a_model_triton_cannot_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="server_batch_size"):
        render_config(dataclasses.replace(RAPIDOCR, server_batch_size=0))


def test_instance_kind_is_rendered_and_read_back() -> None:
    assert "kind: KIND_CPU" in render_config(RAPIDOCR)
    assert "kind: KIND_GPU" in render_config(RAPIDOCR, instance_kind="KIND_GPU")
    _, config = served_minilm()
    assert instance_kinds(config) == {"KIND_CPU"}
    config["instance_group"].append({"kind": "KIND_GPU", "count": 2})
    assert instance_kinds(config) == {"KIND_CPU", "KIND_GPU"}


def test_warmup_inputs_satisfy_every_contract() -> None:
    for spec in default_registry():
        spec.validate_inputs(warmup_inputs(spec))


async def test_unreachable_server_is_retried_then_unavailable() -> None:
    backend = TritonBackend(
        TritonConfig(url=f"grpc://127.0.0.1:{free_port()}", timeout_s=5.0, retries=2, retry_backoff_s=0.01)
    )
    backend._validated.add(MINILM_FP32.key)  # skip start(): nothing listens there
    try:
        with pytest.raises(BackendUnavailableError) as info:
            await backend.infer(MINILM_FP32, warmup_inputs(MINILM_FP32))
        assert not isinstance(info.value, TritonTimeoutError)
        assert backend.stats[MINILM_FP32.key].retries == 2
    finally:
        await backend.aclose()


async def test_start_fails_when_the_server_never_answers() -> None:
    backend = TritonBackend(TritonConfig(url=f"http://127.0.0.1:{free_port()}", startup_timeout_s=0.5))
    try:
        with pytest.raises(BackendUnavailableError, match="not ready after"):
            await backend.start([MINILM_FP32])
    finally:
        await backend.aclose()


@pytest.mark.triton
@pytest.mark.slow
async def test_start_fails_loudly_on_a_contract_mismatch(triton_server: TritonServer) -> None:
    wrong = dataclasses.replace(
        MINILM_FP32, outputs=(TensorSpec("embedding", "FP32", (768,)),), max_batch_size=32
    )
    backend = TritonBackend(TritonConfig(url=f"grpc://{triton_server.grpc_url}", warmup=False))
    try:
        with pytest.raises(ModelContractMismatchError) as info:
            await backend.start([wrong])
        message = str(info.value)
        assert "max_batch_size 64 != registry 32" in message
        assert "output 'embedding' shape [-1, 384] != [-1, 768]" in message
    finally:
        await backend.aclose()


@pytest.mark.triton
@pytest.mark.slow
async def test_a_model_the_server_lacks_fails_validation(triton_server: TritonServer) -> None:
    ghost = dataclasses.replace(MINILM_FP32, version="fp32-99")
    backend = TritonBackend(TritonConfig(url=f"grpc://{triton_server.grpc_url}", warmup=False))
    try:
        with pytest.raises((ModelContractMismatchError, BackendUnavailableError), match="fp32-99"):
            await backend.start([ghost])
    finally:
        await backend.aclose()


@pytest.mark.triton
@pytest.mark.slow
async def test_a_missed_deadline_is_a_timeout(triton_server: TritonServer) -> None:
    from inference.registry import WHISPER_BASE

    backend = TritonBackend(
        TritonConfig(url=f"grpc://{triton_server.grpc_url}", timeouts={"transcribe": 0.05}, warmup=False)
    )
    try:
        await backend.start([WHISPER_BASE])
        import numpy as np

        audio = np.random.default_rng(1).normal(0, 0.1, 16_000 * 20).astype(np.float32)
        with pytest.raises(TritonTimeoutError):
            await backend.infer(WHISPER_BASE, {"audio": audio})
    finally:
        await backend.aclose()
