"""Public conformance suites against a live `mediakg serve` (a real process on loopback):

- graphql-http's ``serverAudits``, the reference implementation of the GraphQL over HTTP
  spec, must report no error and no warning;
- the graphql-ws reference client must stream a job's progress over graphql-transport-ws,
  from the SNAPSHOT to the job's end, and see the server complete the subscription.

Both run with Node.js and the pinned packages of tests/conformance/package-lock.json
(installed by ``make test``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.required import skip_unless_required
from tests.fixtures.serve import ServeProcess, graphql_request

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT / "tests" / "conformance"


@pytest.fixture
def node() -> str:
    found = shutil.which("node")
    if found is None or not (CONFORMANCE / "node_modules" / "graphql-http").is_dir():
        skip_unless_required("Node.js or tests/conformance/node_modules missing (make test runs npm ci)")
    assert found is not None
    return found


def test_graphql_over_http_audits_report_no_warning(node: str, tmp_path: Path) -> None:
    with ServeProcess.start(tmp_path) as serve:
        result = subprocess.run(
            [node, str(CONFORMANCE / "audit.mjs"), f"{serve.base}/graphql", serve.api_key or ""],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["bad"] == [], result.stdout
    assert summary["counts"]["error"] == summary["counts"]["warn"] == 0
    # 59 audits pass; the two notices (400 for a non-string operationName) are MAYs.
    assert summary["counts"]["ok"] >= 59, summary
    assert result.returncode == 0


def test_graphql_ws_reference_client_streams_job_progress(node: str, tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    note = media / "note.md"
    note.write_text("# Harbour log\n\nThe night ferry leaves at nine.\n", encoding="utf-8")
    with ServeProcess.start(tmp_path, allowed_roots=media) as serve:
        ingest = graphql_request(
            serve,
            (ROOT / "graphql" / "operations" / "IngestAsset.graphql").read_text(encoding="utf-8"),
            {"input": {"source": {"path": str(note)}}},
        )
        payload = ingest["data"]["ingestAsset"]
        assert payload["__typename"] == "IngestAssetSuccess", payload
        ws_url = serve.base.replace("http://", "ws://") + "/graphql"
        result = subprocess.run(
            [
                node,
                str(CONFORMANCE / "ws-progress.mjs"),
                ws_url,
                payload["job"]["id"],
                str(ROOT / "graphql" / "operations" / "JobProgress.graphql"),
                serve.api_key or "",
            ],
            capture_output=True,
            text=True,
            timeout=360,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[-1] == {"complete": True}
    kinds = [event["kind"] for event in events[:-1]]
    assert kinds[0] == "SNAPSHOT"
    assert kinds[-1] == "JOB_COMPLETED"
    assert events[-2]["jobStatus"] == "SUCCEEDED"
    assert events[-2]["jobProgress"] == 1.0
    # Stages that ended after the SNAPSHOT each reported it; the last one (index) always does,
    # as it waits for embed, which loads its model after the job was already subscribed to.
    completed = [event["stage"] for event in events[:-1] if event["kind"] == "STAGE_COMPLETED"]
    assert completed[-1] == "index", kinds
    assert len(completed) == len(set(completed)), completed
