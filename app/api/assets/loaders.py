"""Loaders of assets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from app.api.batching import SessionFactory, by_id_loader, clear_loaders
from app.assets import repository
from app.assets.models import Asset


@dataclass(slots=True)
class AssetLoaders:
    """Per-request loaders of the assets domain."""

    factory: SessionFactory
    tenant_id: uuid.UUID
    asset_by_id: DataLoader[uuid.UUID, Asset | None] = field(init=False)

    def __post_init__(self) -> None:
        self.asset_by_id = by_id_loader(self.factory, self.tenant_id, repository.assets_by_id)

    def clear(self) -> None:
        """Forget cached rows (long-lived subscription contexts re-read state per event)."""
        clear_loaders(self)
