"""Typed failures of a pipeline stage.

A stage raises ``PermanentStageError`` when running it again cannot help (corrupt media, a
mislabelled file, a stage that is not implemented): the job fails at once with the code.
Any other exception is transient: the stage is retried with backoff until the retries are
exhausted. ``TransientStageError`` lets a stage name the code of a transient failure.
"""

from __future__ import annotations


class StageFailure(Exception):
    """A stage failed with a stable ``code`` and a message meant for the people reading the job."""

    permanent = False

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PermanentStageError(StageFailure):
    """Retrying cannot help: the stage fails now and its message goes to the dead letters."""

    permanent = True


class TransientStageError(StageFailure):
    """Worth retrying (a model server restarting, a network blip)."""


# Codes the job system itself assigns (stage implementations add their own).
STAGE_NOT_IMPLEMENTED = "STAGE_NOT_IMPLEMENTED"
STAGE_TIME_LIMIT = "STAGE_TIME_LIMIT"
# The stage's lease expired (its worker died or hung) and its attempts are used up: a file
# that crashes the worker process is not run again and again.
STAGE_CRASHED = "STAGE_CRASHED"
TRANSIENT_ERROR = "TRANSIENT_ERROR"
