"""The bridge's label-name vectors are computed once per text-model version and stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from inference.label_vectors import stored_vectors, vectors_path
from inference.registry import MINILM_FP32, MINILM_INT8

NAMES = ("tabby cat", "goldfish", "tow truck")


class Counting:
    def __init__(self, fill: float) -> None:
        self.calls = 0
        self.fill = fill

    async def __call__(self) -> npt.NDArray[np.float32]:
        self.calls += 1
        return np.full((len(NAMES), 4), self.fill, dtype=np.float32)


async def test_a_second_process_reads_what_the_first_stored(tmp_path: Path) -> None:
    first, second = Counting(0.5), Counting(9.0)
    stored = await stored_vectors(tmp_path, MINILM_FP32, NAMES, first)
    again = await stored_vectors(tmp_path, MINILM_FP32, NAMES, second)
    assert (first.calls, second.calls) == (1, 0)
    np.testing.assert_array_equal(again, stored)


async def test_each_model_version_and_name_list_has_its_own_file(tmp_path: Path) -> None:
    fp32, int8, other = Counting(1.0), Counting(2.0), Counting(3.0)
    await stored_vectors(tmp_path, MINILM_FP32, NAMES, fp32)
    got = await stored_vectors(tmp_path, MINILM_INT8, NAMES, int8)
    await stored_vectors(tmp_path, MINILM_FP32, NAMES[:2], other)
    assert (fp32.calls, int8.calls, other.calls) == (1, 1, 1)
    assert float(got[0, 0]) == 2.0
    assert vectors_path(tmp_path, MINILM_FP32, NAMES) != vectors_path(tmp_path, MINILM_INT8, NAMES)


async def test_a_damaged_file_is_recomputed_and_replaced(tmp_path: Path) -> None:
    path = vectors_path(tmp_path, MINILM_FP32, NAMES)
    path.write_bytes(b"not an npy file")
    compute = Counting(0.25)
    got = await stored_vectors(tmp_path, MINILM_FP32, NAMES, compute)
    assert compute.calls == 1
    assert got.shape == (3, 4)
    np.testing.assert_array_equal(np.load(path), got)


async def test_without_a_directory_nothing_is_stored(tmp_path: Path) -> None:
    compute = Counting(0.25)
    await stored_vectors(None, MINILM_FP32, NAMES, compute)
    await stored_vectors(None, MINILM_FP32, NAMES, compute)
    assert compute.calls == 2
    assert not list(tmp_path.glob("*"))  # noqa: ASYNC240  (a test-local directory listing)
