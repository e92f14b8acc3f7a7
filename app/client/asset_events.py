from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import AssetEventKind


class AssetEvents(BaseModel):
    asset_events: "AssetEventsAssetEvents" = Field(alias="assetEvents")


class AssetEventsAssetEvents(BaseModel):
    kind: AssetEventKind
    changed_fields: list[str] = Field(alias="changedFields")
    asset: Optional["AssetEventsAssetEventsAsset"]


class AssetEventsAssetEventsAsset(BaseModel):
    title: str
    tags: list[str]


AssetEvents.model_rebuild()
AssetEventsAssetEvents.model_rebuild()
