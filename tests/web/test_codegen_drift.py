"""The explorer's generated types (web/src/gql) match graphql/schema.graphql and the
documents in web/src/operations: a schema change that breaks an explorer operation, or an
operation edited without `npm run codegen`, fails here (and the build's type check fails
on what it breaks)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.fixtures.required import skip_unless_required
from tests.web.conftest import ROOT, npm

WEB = ROOT / "web"
GENERATED = WEB / "src" / "gql"


def test_generated_types_match_the_schema_and_documents(tmp_path: Path) -> None:
    npm_path = npm()
    codegen = WEB / "node_modules" / ".bin" / "graphql-codegen"
    if not codegen.exists():
        skip_unless_required("web/node_modules is not installed (make web runs npm ci)")
    out = tmp_path / "gql"
    result = subprocess.run(
        [npm_path, "run", "--silent", "codegen"],
        cwd=WEB,
        env={**os.environ, "CODEGEN_OUT": f"{out}/"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    fresh = {path.name: path.read_text(encoding="utf-8") for path in out.iterdir()}
    committed = {path.name: path.read_text(encoding="utf-8") for path in GENERATED.iterdir()}
    assert sorted(fresh) == sorted(committed)
    drifted = [name for name in fresh if fresh[name] != committed[name]]
    assert drifted == [], f"run `npm run codegen` in web/ and commit web/src/gql ({drifted} differ)"
