"""``Loaders.clear`` (run by subscriptions before each event) forgets what every loader of
every group cached: a loader missing from it would serve an event the previous one's rows."""

from __future__ import annotations

import dataclasses
import uuid

from sqlalchemy.ext.asyncio import async_sessionmaker
from strawberry.dataloader import DataLoader

from app.api.context import Loaders


async def test_clear_forgets_every_loader_of_every_group() -> None:
    loaders = Loaders.create(async_sessionmaker(), uuid.uuid4())
    primed: dict[str, DataLoader[object, object]] = {}
    for group_field in dataclasses.fields(loaders):
        group = getattr(loaders, group_field.name)
        for item in dataclasses.fields(group):
            loader = getattr(group, item.name)
            if isinstance(loader, DataLoader):
                loader.prime("key", "stale")
                primed[f"{group_field.name}.{item.name}"] = loader
    # Every group, and the loaders the people and relation fields use, are among them.
    assert {name.split(".")[0] for name in primed} == {f.name for f in dataclasses.fields(loaders)}
    assert {"media.people_by_asset", "media.people_by_scene", "people.tracks_by_person"} <= set(primed)
    assert all(loader.cache_map.get("key") is not None for loader in primed.values())
    loaders.clear()
    assert [name for name, loader in primed.items() if loader.cache_map.get("key") is not None] == []
