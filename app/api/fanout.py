"""Subscription fan-out that costs per event and group, not per subscriber.

Every subscriber of a channel receives the same published payload (the in-process publisher
hands one dict to every queue). Three things are done once per payload instead of once per
subscriber:

- the event object: ``SharedEvents.get`` builds it from the payload once (``from_event``),
  and every subscription yields that same object;
- its execution: ``SharedEventExecutor`` runs a subscription's selection over a shared event
  once per *group*, and every subscriber of the group gets that result. A group is the event,
  the operation (the same cached document, app/api/documents.py), the coerced variables and
  the caller's authorization (tenant and scopes): subscribers of another tenant, with other
  scopes, another selection or other variables never share a result. An event built per
  subscriber (a SNAPSHOT, a payload from Redis, which decodes one per subscription) is never
  shared and runs as before;
- its serialisation: the data of a shared result is encoded to JSON once
  (``encode_next``); each subscriber's frame only adds its own operation id around it.

Entries live in small LRUs that hold their objects, so an object's ``id()`` stays unique
while a key uses it; a subscriber lagging behind more events than they hold just executes
its own copy.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graphql import ExecutionResult

E = TypeVar("E")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Payloads remembered per process: events of the last few seconds on every channel.
SHARED_EVENTS = 256
# Results (one per event and group) remembered per process.
SHARED_RESULTS = 1024


class _Lru(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class SharedEvents:
    """Event objects by the payload they were built from (its identity)."""

    def __init__(self, size: int = SHARED_EVENTS) -> None:
        # id(payload) -> (payload, channel key, event): the payload is held so its id is not reused.
        self._events: _Lru[int, tuple[object, Hashable, object]] = _Lru(size)
        # id(event) -> event, for the executor: which root values are shared.
        self._shared: _Lru[int, object] = _Lru(size)

    def get(self, payload: dict[str, Any], channel: Hashable, build: Callable[[], E | None]) -> E | None:
        """The event of ``payload`` on ``channel`` (``build()`` once per payload and channel)."""
        found = self._events.get(id(payload))
        if found is not None and found[0] is payload and found[1] == channel:
            event: E | None = found[2]  # type: ignore[assignment]  # stored by this method
            return event
        event = build()
        if event is not None:
            self._events.put(id(payload), (payload, channel, event))
            self._shared.put(id(event), event)
        return event

    def is_shared(self, event: object) -> bool:
        """Whether ``event`` came from ``get`` (and is still remembered)."""
        return self._shared.get(id(event)) is event


class _SharedResult:
    """One group's result of one event: the execution, and its data's JSON once encoded."""

    __slots__ = ("event", "json", "operation", "task")

    def __init__(self, event: object, operation: object, task: asyncio.Future[ExecutionResult]) -> None:
        self.event = event
        self.operation = operation
        self.task = task
        self.json: str | None = None


events = SharedEvents()
_results: _Lru[tuple[Hashable, ...], _SharedResult] = _Lru(SHARED_RESULTS)
# id(data) of a shared result -> the result: its data is encoded once (encode_next).
_by_data: _Lru[int, tuple[object, _SharedResult]] = _Lru(SHARED_RESULTS)


def _variables_key(variables: Mapping[str, Any]) -> str:
    return json.dumps(variables, sort_keys=True, default=str, separators=(",", ":"))


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    """Executes a subscription event once per group of subscribers (see the module doc)."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        root = self.root_value
        # graphql-core executes subscription events with serially=False; queries, mutations
        # and the subscription's source field never come through here with a shared root.
        if serially is not False or not events.is_shared(root):
            return super().execute_operation(serially)
        caller = getattr(self.context_value, "caller", None)
        if caller is None:
            return super().execute_operation(serially)
        key = (
            id(root),
            id(self.operation),
            _variables_key(self.variable_values.coerced),
            caller.tenant_id,
            caller.scopes,
        )
        entry = _results.get(key)
        if entry is None or entry.event is not root or entry.operation is not self.operation:
            result = super().execute_operation(serially)
            task: asyncio.Future[ExecutionResult] = asyncio.ensure_future(_as_awaitable(result))
            entry = _SharedResult(root, self.operation, task)
            _results.put(key, entry)
            task.add_done_callback(_remember_data(entry))
        return _wait(entry.task)


async def _as_awaitable(result: Any) -> ExecutionResult:
    if isinstance(result, Awaitable):
        return await result  # type: ignore[no-any-return]
    return result  # type: ignore[no-any-return]


async def _wait(task: asyncio.Future[ExecutionResult]) -> ExecutionResult:
    # Shielded: a subscriber that leaves (cancelled) does not cancel the others' execution.
    return await asyncio.shield(task)


def _remember_data(entry: _SharedResult) -> Callable[[asyncio.Future[ExecutionResult]], None]:
    def done(task: asyncio.Future[ExecutionResult]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        result = task.result()
        if result.data is not None and not result.errors:
            _by_data.put(id(result.data), (result.data, entry))

    return done


def encode_next(message: Mapping[str, Any]) -> str | None:
    """The JSON of a graphql-transport-ws ``next`` message whose data is a shared result's,
    encoding that data once for all its subscribers; None for any other message."""
    if message.get("type") != "next":
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict) or payload.keys() != {"data"}:
        return None
    data = payload["data"]
    found = _by_data.get(id(data))
    if found is None or found[0] is not data:
        return None
    entry = found[1]
    if entry.json is None:
        entry.json = json.dumps(data, separators=(",", ":"))
    op_id = json.dumps(message.get("id"), separators=(",", ":"))
    return f'{{"id":{op_id},"type":"next","payload":{{"data":{entry.json}}}}}'
