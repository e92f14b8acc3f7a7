"""The generated clients against a live `mediakg serve`: the sync client ingests and reads,
the async client follows the job's progress over graphql-transport-ws to its end."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.client import MediaKGClient
from app.client.enums import JobProgressEventKind, JobStatus
from app.client.input_types import IngestAssetInput, IngestSource
from app.client.sync_client import MediaKGSyncClient
from tests.fixtures.serve import ServeProcess

pytestmark = [pytest.mark.slow]


async def test_sync_ingest_then_async_progress_to_the_end(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    note = media / "harbour.md"
    note.write_text("# Harbour log\n\nThe night ferry leaves at nine.\n", encoding="utf-8")
    with ServeProcess.start(tmp_path, allowed_roots=media) as serve:
        headers = {"authorization": f"Bearer {serve.api_key}"} if serve.api_key else {}
        with MediaKGSyncClient(url=f"{serve.base}/graphql", headers=headers) as sync:
            created = sync.ingest_asset(IngestAssetInput(source=IngestSource(path=str(note))))
        payload = created.ingest_asset
        assert payload.typename__ == "IngestAssetSuccess", payload
        job_id = payload.job.id  # type: ignore[union-attr]

        client = MediaKGClient(
            url=f"{serve.base}/graphql",
            headers=headers,
            ws_url=serve.base.replace("http://", "ws://") + "/graphql",
            ws_connection_init_payload=headers,
        )
        async with client:
            events = [event.job_progress async for event in client.job_progress(job_id=job_id)]
    assert events[0].kind == JobProgressEventKind.SNAPSHOT
    assert events[-1].kind == JobProgressEventKind.JOB_COMPLETED
    assert events[-1].job_status == JobStatus.SUCCEEDED
    assert events[-1].job_progress == 1.0
