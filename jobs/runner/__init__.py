"""Running one stage of one job: lease, inputs, the stage function, outputs, what comes next.

Order of a run, and why (``stage_runner.StageRunner.run``):
1. *claim* (``claim``, one transaction): lock the job, check the stage may run
   (PENDING/QUEUED, or RUNNING with an expired lease; upstream stages done; job active and
   not being cancelled), take the lease with a conditional UPDATE. A duplicate or
   redelivered message finds the stage running or finished and changes nothing;
2. *run* the stage function outside any transaction, under its time limit, with a lease
   heartbeat (``leases``) that also notices cancellation and lost leases;
3. *record* the outcome (``outcomes``, one transaction): mark SUCCEEDED only while still
   holding the lease, write the outputs, recompute progress, queue the stages that became
   runnable (sent after commit), finish the job when nothing is left;
4. publish the events after commit: a subscriber never hears of a change a rollback undid.

Failures (``policy``): ``PermanentStageError`` fails the stage and the job, and is re-raised
so Dramatiq dead-letters the message (``throws``); other exceptions put the stage back to
QUEUED and ask Dramatiq for a retry with exponential backoff and jitter, until the last
attempt, which fails the stage like a permanent error and lets the message go to the dead
letters.

Crashes: a worker that dies mid-stage never reports. The sweeper (or a redelivery) sends
the stage again with a fresh message, so Dramatiq's retry count cannot bound it; the claim
does: a stage whose last run vanished (its lease expired) and that was started
``max_retries + 1`` times (per run of the job: each ``retryJob`` grants as many again) is
failed with ``STAGE_CRASHED`` instead of being run again, and the message is dead-lettered.

Threads: interrupting a stage cancels its task, which cannot stop a thread it started with
``ctx.run_sync``; the runner sets ``ctx.cancelled`` too, and long loops in such threads stop
on it (``inference.media``).
"""

from jobs.runner.leases import Claim
from jobs.runner.stage_runner import StageRunner

__all__ = ["Claim", "StageRunner"]
