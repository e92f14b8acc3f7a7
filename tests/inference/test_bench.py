"""Model benchmarks and the `models` CLI (bench, shadow) on the local backend."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from inference import bench
from inference.bench import NO_PHOTOS, recall_at_k, run_bench, to_markdown
from inference.benchsets import LABEL_SET, OCR_SET
from inference.cli import app
from inference.local import LocalBackend, ModelPool
from inference.registry import MOBILENET_FEATURES_SPEC, MOBILENET_LABELS, RAPIDOCR, default_registry

ROOT = Path(__file__).resolve().parents[2]
# The packages the wheel and the image ship (pyproject.toml [tool.setuptools]).
SHIPPED = ("app", "jobs", "inference", "search")


def table_rows(table: str, task: str) -> list[list[str]]:
    """The cells of the markdown rows of ``task``."""
    return [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith(f"| {task} ")
    ]


def test_recall_at_k() -> None:
    queries = np.eye(3, dtype=np.float32)
    docs = np.array([[1, 0, 0], [0, 0.5, 1], [0, 1, 0.9]], dtype=np.float32)
    # Query 0 finds doc 0; query 1's best is doc 2; query 2's best is doc 1.
    assert recall_at_k(queries, docs, 1) == pytest.approx(1 / 3)
    assert recall_at_k(queries, docs, 2) == 1.0


def test_shipped_code_never_imports_the_tests() -> None:
    """`mediakg models bench` runs in the image and from a wheel, where `tests/` is absent."""
    offenders = []
    for package in SHIPPED:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                offenders += [
                    f"{path.relative_to(ROOT)}:{node.lineno}"
                    for name in names
                    if name == "tests" or name.startswith("tests.")
                ]
    assert offenders == []


@pytest.mark.models
def test_bench_compares_text_embedding_versions(tmp_path: Path) -> None:
    out = tmp_path / "bench.md"
    result = CliRunner().invoke(app, ["bench", "--task", "embed_text", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = table_rows(out.read_text(), "embed_text")
    assert len(rows) == 4  # two versions x recall@1, recall@3
    for cells in rows:
        assert cells[1] in {"all-MiniLM-L6-v2:fp32-1", "all-MiniLM-L6-v2:int8-1"}
        assert float(cells[4]) >= 0.9  # both versions retrieve the right passage
        assert float(cells[7]) > 0  # items per second


@pytest.mark.models
def test_bench_ocr_reports_exact_match() -> None:
    result = CliRunner().invoke(app, ["bench", "--task", "ocr"])
    assert result.exit_code == 0, result.output
    (cells,) = table_rows(result.output, "ocr")
    assert cells[1:4] == [RAPIDOCR.key, "local", "exact match"]
    # Clean captions in Pillow's font, both polarities: the local OCR reads all 8 (1.000
    # measured); a model or preprocessing change that misreads more than two fails here.
    assert float(cells[4]) >= 0.75
    assert int(cells[5]) == 2 * len(OCR_SET)
    assert float(cells[6]) > 0  # p50 ms
    assert float(cells[7]) > 0  # items per second


@pytest.mark.models
def test_bench_labels_reports_top5_accuracy() -> None:
    result = CliRunner().invoke(app, ["bench", "--task", "labels"])
    assert result.exit_code == 0, result.output
    (cells,) = table_rows(result.output, "labels")
    assert cells[1:4] == [MOBILENET_LABELS.key, "local", "top-5 accuracy"]
    # The cat, the coffee cup and the rocket each have their class in MobileNetV2's top 5
    # (the same sets tests/inference/test_vision.py asserts).
    assert float(cells[4]) == 1.0
    assert int(cells[5]) == len(LABEL_SET)
    assert float(cells[7]) > 0


async def test_bench_without_the_photos_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service image has no scikit-image: the photo tasks report that instead of failing."""
    # scikit-image is installed here; its absence is simulated.
    monkeypatch.setattr(bench, "photos_available", lambda: False)
    backend = LocalBackend(ModelPool())
    try:
        rows = await run_bench(
            backend,
            default_registry(),
            tasks=["labels", "embed_image"],
            models=[MOBILENET_LABELS.key, MOBILENET_FEATURES_SPEC.key],
        )
    finally:
        await backend.aclose()
    assert [(r.task, r.model, r.note) for r in rows] == [
        ("labels", MOBILENET_LABELS.key, NO_PHOTOS),
        ("embed_image", MOBILENET_FEATURES_SPEC.key, NO_PHOTOS),
    ]
    assert all(math.isnan(r.value) and r.items == 0 for r in rows)
    assert "| nan |" in to_markdown(rows)


@pytest.mark.models
def test_shadow_command_reports_agreement() -> None:
    result = CliRunner().invoke(
        app, ["shadow", "--live", "all-MiniLM-L6-v2:fp32-1", "--candidate", "all-MiniLM-L6-v2:int8-1"]
    )
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if line.startswith("| all-MiniLM-L6-v2:fp32-1")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert int(cells[2]) == 13  # 12 queries + the passages call, all sampled at rate 1
    assert float(cells[3]) == 1.0


def test_unknown_task_is_refused() -> None:
    result = CliRunner().invoke(app, ["bench", "--task", "juggle"])
    assert result.exit_code != 0
    assert "unknown task" in result.output
