"""The Dramatiq broker chosen by ``MEDIAKG_BROKER_URL``, and sending messages to it by name.

- ``redis://`` / ``rediss://``: RedisBroker, every key under ``redis_key_prefix`` (its
  namespace), so deployments and test runs sharing a server never share queues;
- ``amqp://``: RabbitmqBroker (one deployment per virtual host);
- ``memory://``: StubBroker, consumed by worker threads inside ``mediakg serve``.

Queues: ``realtime`` (uploads someone waits on) and ``batch`` (bulk ingest, reprocessing).
Dramatiq orders a worker's prefetched messages by *actor* priority, not by queue, so each
logical actor is declared once per queue, named ``<actor>.<queue>``, with the realtime
variant at the higher priority: a worker holding both kinds of message runs realtime first.
Hard isolation (dedicated realtime workers) is ``mediakg worker --queue realtime``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.broker import Broker
from dramatiq.brokers.stub import StubBroker
from dramatiq.message import Message
from dramatiq.middleware import CurrentMessage, Retries, TimeLimit
from opentelemetry import trace

from app.jobs.errors import PermanentStageError
from app.jobs.service import QUEUES
from app.settings import Settings
from app.telemetry import attached_context, enqueue

log = logging.getLogger(__name__)

# Lower runs first (Dramatiq's convention).
QUEUE_PRIORITY = {"realtime": 0, "batch": 100}
# Dramatiq's own time limit is a backstop behind the runner's per-stage limit (which fails
# the stage cleanly); it only fires when a stage blocks the event loop.
_TIME_LIMIT_BACKSTOP_S = 60.0


def actor_name_for(name: str, queue: str) -> str:
    """The Dramatiq actor that serves logical actor ``name`` on ``queue``."""
    return f"{name}.{queue}"


def build_broker(settings: Settings, *, time_limit_s: float) -> Broker:
    """The broker the settings name, with this project's middleware and both queues declared."""
    middleware = [
        TimeLimit(time_limit=int((time_limit_s + _TIME_LIMIT_BACKSTOP_S) * 1000), interval=1000),
        Retries(
            max_retries=settings.max_retries,
            min_backoff=max(1, settings.retry_min_backoff_ms),
            max_backoff=max(1, settings.retry_max_backoff_ms),
        ),
        CurrentMessage(),
    ]
    url = settings.broker_url
    broker: Broker
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        # Unannotated in dramatiq 2.2.1.
        broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=url, namespace=settings.redis_key_prefix, middleware=middleware
        )
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url, middleware=middleware)
    elif url.startswith("memory://"):
        broker = StubBroker(middleware=middleware)
    else:
        raise ValueError(f"unsupported broker URL {url!r}: use memory://, redis:// or amqp://")
    for queue in QUEUES:
        broker.declare_queue(queue)
    return broker


def declare_actor(
    broker: Broker, name: str, fn: Callable[..., Any], *, settings: Settings, time_limit_s: float
) -> None:
    """Declare logical actor ``name`` on every queue, running ``fn``."""
    for queue in QUEUES:
        dramatiq.Actor(
            fn,
            broker=broker,
            actor_name=actor_name_for(name, queue),
            queue_name=queue,
            priority=QUEUE_PRIORITY[queue],
            options={
                # Permanent failures are not retried: the message goes to the dead letters.
                "throws": (PermanentStageError,),
                "max_retries": settings.max_retries,
                "min_backoff": max(1, settings.retry_min_backoff_ms),
                "max_backoff": max(1, settings.retry_max_backoff_ms),
                "time_limit": int((time_limit_s + _TIME_LIMIT_BACKSTOP_S) * 1000),
            },
        )


def messaging_system(broker: Broker) -> str:
    """The ``messaging.system`` of ``broker`` (semantic-convention values where they exist)."""
    if isinstance(broker, StubBroker):
        return "memory"
    name = type(broker).__name__.lower()  # RedisBroker, RabbitmqBroker
    return next((system for system in ("redis", "rabbitmq") if name.startswith(system)), name)


@dataclass(slots=True)
class DramatiqEnqueuer:
    """The ``app.container.Enqueuer`` of the job system: sends by logical actor name."""

    broker: Broker

    def send(
        self,
        actor_name: str,
        *,
        queue: str,
        args: dict[str, Any],
        delay_ms: int = 0,
        options: dict[str, Any] | None = None,
    ) -> None:
        """Send one message inside a PRODUCER span whose context travels in its options, so
        the stage run that handles it is the span's child."""
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}")
        opts = dict(options or {})
        # Outside any span (the sweeper re-sending a lost stage), the send joins the trace of
        # the request that created the job, which the caller put in the options.
        origin = opts.get("trace_context")
        inside_span = trace.get_current_span().get_span_context().is_valid
        with (
            attached_context(origin) if origin and not inside_span else contextlib.nullcontext(),
            enqueue(actor_name, queue=queue, system=messaging_system(self.broker)) as carrier,
        ):
            opts["trace_context"] = carrier
            message: Message[Any] = Message(
                queue_name=queue,
                actor_name=actor_name_for(actor_name, queue),
                args=(),
                kwargs=args,
                options=opts,
            )
            trace.get_current_span().set_attribute("messaging.message.id", message.message_id)
            self.broker.enqueue(message, delay=delay_ms or None)


def dead_letters(broker: Broker, queue: str, *, limit: int = 100) -> list[Message[Any]]:
    """The dead-lettered messages of ``queue`` (most recent last), as far as the broker can list them."""
    if isinstance(broker, StubBroker):
        return [proxy._message for proxy in broker.dead_letters_by_queue[queue]][-limit:]
    namespace = getattr(broker, "namespace", None)
    client = getattr(broker, "client", None)
    if namespace is None or client is None:
        raise NotImplementedError(
            f"{type(broker).__name__} dead letters are listed with the broker's own tools "
            f"(RabbitMQ: the {queue}.XQ queue)"
        )
    # RedisBroker layout (dramatiq/brokers/redis/dispatch.lua): <ns>:<queue>.XQ is a sorted
    # set of message ids by time of death, <ns>:<queue>.XQ.msgs a hash id -> encoded message.
    ids = client.zrange(f"{namespace}:{queue}.XQ", -limit, -1)
    if not ids:
        return []
    raw = client.hmget(f"{namespace}:{queue}.XQ.msgs", ids)
    return [Message.decode(data) for data in raw if data is not None]
