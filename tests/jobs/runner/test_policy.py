"""How a transient stage failure is recorded: the message reaches API clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.jobs.errors import TRANSIENT_ERROR
from jobs.runner.policy import failure_of


def test_a_file_error_is_recorded_without_the_server_path(tmp_path: Path) -> None:
    missing = tmp_path / "blobs" / "sha256" / "ab" / "cd" / "gone.mp4"
    with pytest.raises(FileNotFoundError) as info:
        missing.open("rb")
    code, message = failure_of(info.value)
    assert (code, message) == (TRANSIENT_ERROR, "FileNotFoundError: No such file or directory")
    assert str(tmp_path) not in message


def test_other_errors_keep_their_message() -> None:
    assert failure_of(ValueError("bad frame 12")) == (TRANSIENT_ERROR, "ValueError: bad frame 12")
    assert failure_of(ConnectionResetError(104, "Connection reset by peer")) == (
        TRANSIENT_ERROR,
        "ConnectionResetError: [Errno 104] Connection reset by peer",
    )
