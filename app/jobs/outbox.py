"""Messages deferred until the transaction that created their work commits.

A job row that a rollback removes must never be enqueued, and a committed one must be: so
``defer_send`` only buffers, and an ``after_commit`` hook sends (``after_rollback`` drops).
If sending fails after commit the job row is still there and the sweeper enqueues it later.
``defer_publish`` does the same for progress events: a rolled-back change is never announced.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.core.container import Enqueuer
from app.core.events import Publisher

log = logging.getLogger(__name__)
_KEY = "mediakg_outbox"


@dataclass(slots=True)
class _Message:
    actor_name: str
    queue: str
    args: dict[str, Any]
    delay_ms: int = 0
    options: dict[str, Any] = field(default_factory=dict)


def defer_send(
    session: AsyncSession,
    enqueuer: Enqueuer | None,
    *,
    actor_name: str,
    queue: str,
    args: dict[str, Any],
    delay_ms: int = 0,
    options: dict[str, Any] | None = None,
) -> None:
    """Send a message once ``session`` commits. No enqueuer: nothing to send (the sweeper acts)."""
    if enqueuer is None:
        return
    sync = session.sync_session
    sync.info.setdefault(_KEY, []).append(
        (enqueuer, _Message(actor_name, queue, args, delay_ms, options or {}))
    )


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    pending: list[tuple[Enqueuer, _Message]] = session.info.pop(_KEY, [])
    for enqueuer, msg in pending:
        try:
            enqueuer.send(
                msg.actor_name, queue=msg.queue, args=msg.args, delay_ms=msg.delay_ms, options=msg.options
            )
        except Exception:
            # The row is committed: the sweeper finds the unsent stage and enqueues it.
            log.exception("enqueue after commit failed", extra={"actor": msg.actor_name})


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_KEY, None)


_PUBLISH_KEY = "mediakg_outbox_publish"
# Publishing is fire-and-forget after commit; the tasks are kept here so they are not
# garbage-collected mid-flight (asyncio holds only weak references to tasks).
_publish_tasks: set[asyncio.Task[None]] = set()


def defer_publish(
    session: AsyncSession, publisher: Publisher | None, channel: str, event: dict[str, Any]
) -> None:
    """Publish ``event`` once ``session`` commits (a rolled-back change is never announced)."""
    if publisher is None:
        return
    session.sync_session.info.setdefault(_PUBLISH_KEY, []).append((publisher, channel, event))


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    pending: list[tuple[Publisher, str, dict[str, Any]]] = session.info.pop(_PUBLISH_KEY, [])
    if not pending:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        log.warning(
            "events committed outside an event loop were not published", extra={"count": len(pending)}
        )
        return
    # One task publishing in order: subscribers see "stage_cancelled" before "job_cancelled".
    task = loop.create_task(_publish_all(pending))
    _publish_tasks.add(task)
    task.add_done_callback(_publish_tasks.discard)


async def _publish_all(pending: list[tuple[Publisher, str, dict[str, Any]]]) -> None:
    for publisher, channel, payload in pending:
        try:
            await publisher.publish(channel, payload)
        except Exception:
            # Events are a live view; the Job row stays the truth a late subscriber reads first.
            log.exception("publishing an event failed", extra={"channel": channel})


@event.listens_for(Session, "after_soft_rollback")
def _drop_publish_after_rollback(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_PUBLISH_KEY, None)
