"""The Dramatiq broker chosen by ``MEDIAKG_BROKER_URL``, and sending messages to it by name.

- ``redis://`` / ``rediss://``: RedisBroker, every key under ``redis_key_prefix`` (its
  namespace), so deployments and test runs sharing a server never share queues;
- ``amqp://``: RabbitmqBroker, its queues named ``<redis_key_prefix>.<queue>`` (with Dramatiq's
  ``.DQ`` and ``.XQ`` beside each), so deployments sharing a virtual host never share queues;
- ``memory://``: StubBroker, consumed by worker threads inside ``mediakg serve``.

Queues: ``realtime`` (uploads someone waits on) and ``batch`` (bulk ingest, reprocessing).
Dramatiq orders a worker's prefetched messages by *actor* priority, not by queue, so each
logical actor is declared once per queue, named ``<actor>.<queue>``, with the realtime
variant at the higher priority: a worker holding both kinds of message runs realtime first.
Hard isolation (dedicated realtime workers) is ``mediakg worker --queue realtime``.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import logging
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.broker import Broker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name
from dramatiq.message import Message
from dramatiq.middleware import CurrentMessage, Retries, TimeLimit
from opentelemetry import trace

from app.core.settings import Settings
from app.core.telemetry import QueueStat, attached_context, enqueue
from app.jobs.errors import PermanentStageError
from app.jobs.service import QUEUES

log = logging.getLogger(__name__)

# Lower runs first (Dramatiq's convention).
QUEUE_PRIORITY = {"realtime": 0, "batch": 100}
# Dramatiq's own time limit is a backstop behind the runner's per-stage limit (which fails
# the stage cleanly); it only fires when a stage blocks the event loop.
_TIME_LIMIT_BACKSTOP_S = 60.0


# RabbitMQ queue names carry the deployment's prefix (a Redis broker's keys already do): the
# broker's prefix, by broker, so everything holding a broker names its queues alike.
_QUEUE_PREFIX: weakref.WeakKeyDictionary[Broker, str] = weakref.WeakKeyDictionary()


def broker_queue(broker: Broker, queue: str) -> str:
    """The name of logical queue ``queue`` (``realtime`` or ``batch``) on ``broker``."""
    prefix = _QUEUE_PREFIX.get(broker)
    return f"{prefix}.{queue}" if prefix else queue


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
        _QUEUE_PREFIX[broker] = settings.redis_key_prefix
    elif url.startswith("memory://"):
        broker = StubBroker(middleware=middleware)
    else:
        raise ValueError(f"unsupported broker URL {url!r}: use memory://, redis:// or amqp://")
    for queue in QUEUES:
        broker.declare_queue(broker_queue(broker, queue))
    return broker


def close_broker(broker: Broker) -> None:
    """Close ``broker``. A Redis broker first leaves Dramatiq's ``__heartbeats__`` set, which
    would otherwise name it until another process's maintenance prunes it (and keep the key
    after the last process stopped); not while it still holds unacknowledged messages, whose
    redelivery that same pruning does."""
    from dramatiq.brokers.redis import RedisBroker

    if isinstance(broker, RedisBroker):
        client = broker.client
        try:
            if (
                next(client.scan_iter(match=f"{broker.namespace}:__acks__.{broker.broker_id}.*"), None)
                is None
            ):
                client.zrem(f"{broker.namespace}:__heartbeats__", broker.broker_id)
        except Exception:
            log.warning("removing the broker's heartbeat failed", exc_info=True)
    broker.close()


def declare_actor(
    broker: Broker, name: str, fn: Callable[..., Any], *, settings: Settings, time_limit_s: float
) -> None:
    """Declare logical actor ``name`` on every queue, running ``fn``."""
    for queue in QUEUES:
        dramatiq.Actor(
            fn,
            broker=broker,
            actor_name=actor_name_for(name, queue),
            queue_name=broker_queue(broker, queue),
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
    """The ``app.core.container.Enqueuer`` of the job system: sends by logical actor name."""

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
                queue_name=broker_queue(self.broker, queue),
                actor_name=actor_name_for(actor_name, queue),
                args=(),
                kwargs=args,
                options=opts,
            )
            trace.get_current_span().set_attribute("messaging.message.id", message.message_id)
            self.broker.enqueue(message, delay=delay_ms or None)


def dead_letters(broker: Broker, queue: str, *, limit: int = 100) -> list[Message[Any]]:
    """The dead-lettered messages of ``queue`` (most recent last, at most ``limit``).

    Listing consumes nothing: RabbitMQ's are read with ``basic_get`` and handed back
    (``basic_nack(requeue=True)``), in their original order."""
    if isinstance(broker, StubBroker):
        return [proxy._message for proxy in broker.dead_letters_by_queue[queue]][-limit:]
    if is_rabbitmq(broker):
        return _rabbitmq_dead_letters(broker, queue, limit=limit)
    namespace = getattr(broker, "namespace", None)
    client = getattr(broker, "client", None)
    if namespace is None or client is None:
        raise NotImplementedError(f"{type(broker).__name__} dead letters cannot be listed")
    # RedisBroker layout (dramatiq/brokers/redis/dispatch.lua): <ns>:<queue>.XQ is a sorted
    # set of message ids by time of death, <ns>:<queue>.XQ.msgs a hash id -> encoded message.
    ids = client.zrange(f"{namespace}:{queue}.XQ", -limit, -1)
    if not ids:
        return []
    raw = client.hmget(f"{namespace}:{queue}.XQ.msgs", ids)
    return [Message.decode(data) for data in raw if data is not None]


# --- RabbitMQ operations: queue depth, oldest age, dead letters, health -------------------
#
# Dramatiq's RabbitmqBroker declares three durable queues per queue: ``<q>`` (ready),
# ``<q>.DQ`` (delayed: retries waiting out their backoff) and ``<q>.XQ`` (dead letters, kept
# 7 days). Operations read them over AMQP (the management API is not assumed), each on a
# short-lived connection of its own with short timeouts: the broker's thread-local
# connections belong to the threads that send, and a metrics scrape or a health check must
# neither block on nor disturb them.

# Connect/read timeout of an operations connection.
AMQP_OPS_TIMEOUT_S = 3.0


def is_rabbitmq(broker: Broker | None) -> bool:
    """Whether ``broker`` is Dramatiq's RabbitmqBroker (without importing pika otherwise)."""
    return type(broker).__name__ == "RabbitmqBroker"


@contextlib.contextmanager
def amqp_channel(broker: Broker, *, timeout_s: float = AMQP_OPS_TIMEOUT_S) -> Iterator[Any]:
    """A channel on a new connection to ``broker``'s server (one attempt, ``timeout_s``);
    closed on exit, which also hands back any message fetched and not acknowledged."""
    import pika

    configured = getattr(broker, "parameters", None)
    if configured is None:
        raise TypeError(f"{type(broker).__name__} has no AMQP connection parameters")
    parameters = []
    for original in configured if isinstance(configured, list) else [configured]:
        params = copy.copy(original)
        params.socket_timeout = timeout_s
        params.stack_timeout = timeout_s
        params.blocked_connection_timeout = timeout_s
        params.connection_attempts = 1
        params.retry_delay = 0
        parameters.append(params)
    connection = pika.BlockingConnection(parameters)
    try:
        yield connection.channel()
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def _message_count(channel: Any, name: str) -> tuple[int, Any]:
    """Messages ready in queue ``name`` (0 when it does not exist yet: Dramatiq declares
    queues on first use), and the channel to go on with: the broker closes the channel of a
    passive declare of a missing queue, so a new one replaces it."""
    import pika.exceptions

    try:
        return int(channel.queue_declare(queue=name, passive=True).method.message_count), channel
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != 404:
            raise
        return 0, channel.connection.channel()


def _peek_timestamp_ms(channel: Any, name: str) -> int | None:
    """Enqueue time of the message at the head of queue ``name``, read with ``basic_get``
    and handed straight back (``basic_nack(requeue=True)`` puts it back in its place);
    None when the queue is empty."""
    method, _properties, body = channel.basic_get(queue=name, auto_ack=False)
    if method is None:
        return None
    channel.basic_nack(delivery_tag=method.delivery_tag, requeue=True)
    try:
        return int(Message.decode(body).message_timestamp)
    except Exception:  # not a Dramatiq message: its age is unknown, its depth still counts
        log.warning("queue %s: head message is not a Dramatiq message", name)
        return None


def rabbitmq_queue_stats(broker: Broker, queues: Iterable[str]) -> list[QueueStat]:
    """Depth (ready + delayed), age of the oldest ready message and dead letters per queue."""
    now_ms = time.time() * 1000
    stats = []
    with amqp_channel(broker) as channel:
        for queue in queues:
            name = broker_queue(broker, queue)
            ready, channel = _message_count(channel, name)
            delayed, channel = _message_count(channel, dq_name(name))
            dead, channel = _message_count(channel, xq_name(name))
            head = _peek_timestamp_ms(channel, name) if ready else None
            age = (now_ms - head) / 1000 if head is not None else 0.0
            stats.append(QueueStat(queue, ready + delayed, max(0.0, age), dead))
    return stats


def rabbitmq_healthy(broker: Broker, *, timeout_s: float = AMQP_OPS_TIMEOUT_S) -> bool:
    """Whether the RabbitMQ server accepts a connection and opens a channel within ``timeout_s``."""
    try:
        with amqp_channel(broker, timeout_s=timeout_s) as channel:
            return bool(channel.is_open)
    except Exception:
        log.warning("RabbitMQ health check failed", exc_info=True)
        return False


def _rabbitmq_dead_letters(broker: Broker, queue: str, *, limit: int) -> list[Message[Any]]:
    # The dead-letter queue is FIFO by time of death: read it whole (each message stays
    # unacknowledged on this channel, so basic_get moves on to the next), keep the last
    # ``limit``, then hand every one back at once.
    kept: collections.deque[Message[Any]] = collections.deque(maxlen=limit)
    dead = xq_name(broker_queue(broker, queue))
    with amqp_channel(broker) as channel:
        total, channel = _message_count(channel, dead)
        last_tag = None
        try:
            for _ in range(total):
                method, _properties, body = channel.basic_get(queue=dead, auto_ack=False)
                if method is None:
                    break
                last_tag = method.delivery_tag
                try:
                    kept.append(Message.decode(body))
                except Exception:
                    log.warning("dead letter on %s is not a Dramatiq message; skipped", queue)
        finally:
            if last_tag is not None:
                channel.basic_nack(delivery_tag=last_tag, multiple=True, requeue=True)
    return list(kept)
