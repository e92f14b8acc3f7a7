"""Model benchmarks and the `models` CLI (bench, shadow) on the local backend."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from inference.bench import recall_at_k
from inference.cli import app


def test_recall_at_k() -> None:
    queries = np.eye(3, dtype=np.float32)
    docs = np.array([[1, 0, 0], [0, 0.5, 1], [0, 1, 0.9]], dtype=np.float32)
    # Query 0 finds doc 0; query 1's best is doc 2; query 2's best is doc 1.
    assert recall_at_k(queries, docs, 1) == pytest.approx(1 / 3)
    assert recall_at_k(queries, docs, 2) == 1.0


@pytest.mark.models
def test_bench_compares_text_embedding_versions(tmp_path: object) -> None:
    from pathlib import Path

    out = Path(str(tmp_path)) / "bench.md"
    result = CliRunner().invoke(app, ["bench", "--task", "embed_text", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [line for line in out.read_text().splitlines() if line.startswith("| embed_text")]
    assert len(rows) == 4  # two versions x recall@1, recall@3
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] in {"all-MiniLM-L6-v2:fp32-1", "all-MiniLM-L6-v2:int8-1"}
        assert float(cells[4]) >= 0.9  # both versions retrieve the right passage
        assert float(cells[7]) > 0  # items per second


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
