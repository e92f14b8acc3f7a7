"""The registry's contracts and lookups (no models loaded)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from inference.backend import strings
from inference.config import InferenceConfig
from inference.errors import ContractError, ModelNotConfiguredError, UnknownModelError
from inference.registry import (
    MINILM_FP32,
    MINILM_INT8,
    MOBILENET_LABELS,
    RAPIDOCR,
    TASKS,
    ModelRegistry,
    default_registry,
)
from inference.router import InferenceRouter


def test_every_task_but_clip_has_a_model_and_keys_are_unique() -> None:
    registry = default_registry()
    keys = [spec.key for spec in registry]
    assert len(keys) == len(set(keys)) == len(registry)
    for task in TASKS:
        if task.endswith("_clip"):
            continue
        assert registry.for_task(task), task


def test_lookup_by_name_needs_a_version_when_there_are_several() -> None:
    registry = default_registry()
    assert registry.get("all-MiniLM-L6-v2", "int8-1") is MINILM_INT8
    assert registry.get("rapidocr-ppocr") is RAPIDOCR
    with pytest.raises(UnknownModelError, match="2 versions"):
        registry.get("all-MiniLM-L6-v2")
    with pytest.raises(UnknownModelError):
        registry.get("no-such-model", "1")


def test_registering_a_different_contract_under_a_taken_key_fails() -> None:
    registry = ModelRegistry([MINILM_FP32])
    registry.register(MINILM_FP32)
    changed = type(MINILM_FP32)(
        **{**{f: getattr(MINILM_FP32, f) for f in MINILM_FP32.__slots__}, "max_batch_size": 1}
    )
    with pytest.raises(ValueError, match="already registered"):
        registry.register(changed)


def test_batched_contract_accepts_a_batch_and_returns_its_size() -> None:
    pixels = np.zeros((3, 3, 224, 224), dtype=np.float32)
    assert MOBILENET_LABELS.validate_inputs({"pixels": pixels}) == 3
    MOBILENET_LABELS.validate_outputs({"probs": np.zeros((3, 1000), dtype=np.float32)}, 3)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"pixels": np.zeros((1, 3, 224, 224), dtype=np.float64)}, "dtype"),
        ({"pixels": np.zeros((1, 3, 100, 224), dtype=np.float32)}, "shape"),
        ({"pixels": np.zeros((33, 3, 224, 224), dtype=np.float32)}, "max_batch_size"),
        ({"image": np.zeros((1, 3, 224, 224), dtype=np.float32)}, "contract"),
    ],
)
def test_contract_violations_are_rejected(inputs: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(ContractError, match=message):
        MOBILENET_LABELS.validate_inputs(inputs)


def test_output_batch_must_match_the_request() -> None:
    with pytest.raises(ContractError, match="batch"):
        MINILM_FP32.validate_outputs({"embedding": np.zeros((2, 384), dtype=np.float32)}, 3)


def test_unbatched_contract_checks_full_shapes() -> None:
    RAPIDOCR.validate_inputs({"image": np.zeros((10, 20, 3), dtype=np.uint8)})
    with pytest.raises(ContractError):
        RAPIDOCR.validate_inputs({"image": np.zeros((10, 20, 4), dtype=np.uint8)})
    RAPIDOCR.validate_outputs(
        {
            "boxes": np.zeros((2, 4, 2), dtype=np.float32),
            "text": strings(["a", "b"]),
            "score": np.zeros(2, dtype=np.float32),
        },
        None,
    )


async def test_router_picks_versions_from_config() -> None:
    router = InferenceRouter(InferenceConfig(whisper_model="base", text_embedding="int8", batching=False))
    try:
        assert router.model_for("transcribe").name == "whisper-base"
        assert router.model_for("embed_text") is MINILM_INT8
        assert router.model_for("embed_bridge").derived_from == (MOBILENET_LABELS.key, MINILM_INT8.key)
        in_use = router.models_in_use()
        assert str(in_use["embed_text"]) == "all-MiniLM-L6-v2:int8-1"
        assert "embed_text_clip" not in in_use
        with pytest.raises(ModelNotConfiguredError, match="clip_model_dir"):
            router.model_for("embed_image_clip")
    finally:
        await router.aclose()


def test_unknown_backend_url_is_a_configuration_error() -> None:
    with pytest.raises(ModelNotConfiguredError, match="grpc://"):
        InferenceRouter(InferenceConfig(url="grpc://triton:8001"))


def test_config_from_settings_reads_the_model_fields(tmp_path: Path) -> None:
    settings = SimpleNamespace(
        inference_url="local://",
        whisper_model="base",
        clip_model_dir=tmp_path,
        data_dir=tmp_path,
        cpu_budget=3,
    )
    config = InferenceConfig.from_settings(settings, batch_max_items=8)
    assert (config.url, config.whisper_model, config.clip_model_dir) == ("local://", "base", tmp_path)
    assert config.label_vectors_dir is not None
    assert config.label_vectors_dir.is_relative_to(tmp_path)
    assert config.batch_max_items == 8
    # One CPU budget: worker threads, CPU slots and whisper's threads follow it.
    assert (config.threads, config.cpu_budget, config.whisper_threads) == (3, 3, 2)
    with pytest.raises(ModelNotConfiguredError, match="large-v3"):
        InferenceConfig.from_settings(
            SimpleNamespace(
                inference_url="local://",
                whisper_model="large-v3",
                clip_model_dir=None,
                data_dir=tmp_path,
                cpu_budget=0,
            )
        )
