"""The CLIP path, exercised with a tiny randomly initialised CLIP built and saved by the test.

No package ships CLIP weights; this proves the directory-loading path (config, weights,
tokenizer, image processor), the contract and the version fingerprint, not CLIP's quality.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inference.config import InferenceConfig
from inference.errors import ModelNotConfiguredError
from inference.models.clip import inspect_clip_dir
from inference.router import InferenceRouter
from tests.fixtures.media import photo

pytestmark = pytest.mark.models

PROJECTION = 24


def _save_tiny_clip(path: Path, seed: int) -> Path:
    import torch
    from tokenizers import pre_tokenizers
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

    torch.manual_seed(seed)
    # A byte-level BPE vocabulary with no merges: every byte, its end-of-word form, specials.
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab_list = ["<|startoftext|>", "<|endoftext|>", *alphabet, *(c + "</w>" for c in alphabet)]
    vocab = {token: i for i, token in enumerate(vocab_list)}
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    config = CLIPConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
            "bos_token_id": vocab["<|startoftext|>"],
            "eos_token_id": vocab["<|endoftext|>"],
            "pad_token_id": vocab["<|endoftext|>"],
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=PROJECTION,
    )
    CLIPModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    image_processor.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip", seed=0)


async def test_clip_directory_loads_and_embeds_text_and_images(clip_dir: Path) -> None:
    router = InferenceRouter(InferenceConfig(clip_model_dir=clip_dir))
    try:
        texts = await router.embed_text_clip(["a cat", "a rocket", "a cat"])
        images = await router.embed_image_clip([photo("chelsea"), photo("rocket")])
        in_use = router.models_in_use()
    finally:
        await router.aclose()
    info = inspect_clip_dir(clip_dir)
    assert texts.vectors.shape == (3, PROJECTION)
    assert images.vectors.shape == (2, PROJECTION)
    np.testing.assert_allclose(np.linalg.norm(texts.vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(images.vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(texts.vectors[0], texts.vectors[2], atol=1e-6)
    assert float(texts.vectors[0] @ texts.vectors[1]) < 0.9999
    assert float(images.vectors[0] @ images.vectors[1]) < 0.9999
    assert texts.model.version == images.model.version == info.version
    assert texts.model.name == "clip-tiny-clip-text"
    assert images.model.name == "clip-tiny-clip-image"
    assert in_use["embed_image_clip"] == images.model


def test_different_weights_give_a_different_version(clip_dir: Path, tmp_path: Path) -> None:
    other = _save_tiny_clip(tmp_path / "tiny-clip", seed=1)
    assert inspect_clip_dir(other).version != inspect_clip_dir(clip_dir).version
    assert inspect_clip_dir(clip_dir).version == inspect_clip_dir(clip_dir).version


def test_a_directory_without_clip_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        InferenceRouter(InferenceConfig(clip_model_dir=tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="not clip"):
        inspect_clip_dir(tmp_path)


async def test_clip_tasks_fail_clearly_when_not_configured(router: InferenceRouter) -> None:
    with pytest.raises(ModelNotConfiguredError, match="clip_model_dir"):
        await router.embed_text_clip(["a cat"])
