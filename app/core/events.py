"""Progress and change events, and the publisher that fans them out to subscribers.

The publisher is transport only: a subscriber that connects late first reads the current
state from the database (the Job row), then follows events. Two implementations live in
``app/core/pubsub.py``: in-process (embedded default) and Redis pub/sub (production).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol


def job_channel(job_id: uuid.UUID) -> str:
    """Channel of one job's progress events."""
    return f"job:{job_id}"


def asset_channel(asset_id: uuid.UUID) -> str:
    """Channel of one asset's change events."""
    return f"asset:{asset_id}"


class Publisher(Protocol):
    """Fan-out of JSON-serialisable events to whoever listens on a channel right now."""

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        """Send ``event`` to every current subscriber of ``channel``."""
        ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        """Subscribe; leaving the context releases every resource the subscription held."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
