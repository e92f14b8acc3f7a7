"""The typed client in app/client/ is what ariadne-codegen makes of the committed schema and
operation documents: regenerating it changes nothing (`make client` after a schema change)."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.required import skip_unless_required

ROOT = Path(__file__).resolve().parents[2]
CODEGEN_PYTHON = ROOT / ".venv-codegen" / "bin" / "python"


@pytest.mark.slow
def test_generated_client_matches_schema_and_operations(tmp_path: Path) -> None:
    if not CODEGEN_PYTHON.exists():
        skip_unless_required(".venv-codegen is not built (make client-env; var/client-env.log)")
    result = subprocess.run(
        [str(CODEGEN_PYTHON), str(ROOT / "scripts" / "generate_client.py"), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    committed = ROOT / "app" / "client"
    generated = sorted(p.name for p in tmp_path.glob("*.py"))
    assert generated == sorted(p.name for p in committed.glob("*.py")), "run `make client` and commit"
    _, mismatch, errors = filecmp.cmpfiles(tmp_path, committed, generated, shallow=False)
    assert (mismatch, errors) == ([], []), f"app/client/ drifted in {mismatch + errors}: run `make client`"
