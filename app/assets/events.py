"""Events on an asset's channel, and the asset state an event carries.

An ``asset_updated`` event carries the asset as its change left it (``asset``: every column,
JSON-encoded), so each subscriber shows the state its own event describes and fan-out reads
nothing from the database per subscriber.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, inspect

from app.assets.models import Asset
from app.core.db import utcnow


def asset_event(event_type: str, asset: Asset, *, with_state: bool = False, **extra: Any) -> dict[str, Any]:
    """An event on ``asset_channel(asset.id)``; same envelope keys as job events. With
    ``with_state`` it carries the row as it is now (call it after the change is flushed)."""
    event = {
        "type": event_type,
        "asset_id": str(asset.id),
        "tenant_id": str(asset.tenant_id),
        "at": utcnow().isoformat(),
        **extra,
    }
    if with_state:
        event["asset"] = asset_state(asset)
    return event


def asset_state(asset: Asset) -> dict[str, Any]:
    """Every column of ``asset`` as JSON-serialisable values."""
    return {attr.key: _dump(getattr(asset, attr.key)) for attr in inspect(Asset).column_attrs}


def asset_from_state(state: dict[str, Any]) -> Asset | None:
    """A detached ``Asset`` holding ``state`` (from ``asset_state``); None if it is not one."""
    values: dict[str, Any] = {}
    try:
        for attr in inspect(Asset).column_attrs:
            column_type = attr.columns[0].type
            raw = state[attr.key]
            values[attr.key] = None if raw is None else _load(column_type, raw)
    except (KeyError, ValueError, TypeError):
        return None
    return Asset(**values)


def _dump(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _load(column_type: Any, raw: Any) -> Any:
    if isinstance(column_type, JSON) or isinstance(getattr(column_type, "impl", None), JSON):
        return raw
    python_type = column_type.python_type
    if python_type is uuid.UUID:
        return uuid.UUID(raw)
    if python_type is datetime:
        return datetime.fromisoformat(raw)
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        return python_type(raw)
    return raw
