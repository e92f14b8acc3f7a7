"""Root queries of assets."""

from __future__ import annotations

import enum
from typing import Annotated

import strawberry

from app.api.assets.types import AssetFilterInput, AssetType
from app.api.context import Info
from app.api.enums import OrderDirection
from app.api.fields import field
from app.api.node import resolve_node
from app.api.pagination import DEFAULT_PAGE_SIZE, Connection, connection, page_of
from app.api.scalars import After, First
from app.assets import repository as repo


@strawberry.enum(name="AssetOrderField", description="What assets can be sorted by.")
class AssetOrderField(enum.Enum):
    """Sort keys of the assets connection (the id breaks ties)."""

    CREATED_AT = strawberry.enum_value(
        "created_at", description="When the asset was registered (the default)."
    )
    UPDATED_AT = strawberry.enum_value("updated_at", description="When the asset last changed.")
    TITLE = strawberry.enum_value("title", description="The title, compared as stored (case-sensitive).")


@strawberry.input(name="AssetOrder", description="How to sort assets.")
class AssetOrderInput:
    """Sort key and direction."""

    field: AssetOrderField = strawberry.field(default=AssetOrderField.CREATED_AT, description="Sort key.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.DESC, description="Sort direction.")


@strawberry.type
class AssetQueries:
    """Root fields of assets."""

    @field(description="The asset with this ID, or null if it does not exist (or was deleted).")
    async def asset(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="An Asset ID.")]
    ) -> AssetType | None:
        node: AssetType | None = await resolve_node(info, id, field=["id"], expected="Asset")
        return node

    @field(description="The caller's assets, filtered and sorted (newest first by default).")
    async def assets(
        self,
        info: Info,
        filter: Annotated[
            AssetFilterInput | None, strawberry.argument(description="Which assets to return.")
        ] = None,
        order_by: Annotated[AssetOrderInput | None, strawberry.argument(description="How to sort.")] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> Connection[AssetType]:
        order = order_by or AssetOrderInput()
        # str(): typed as the enum_value definition, the member's value is the plain string.
        ordering = repo.asset_ordering(str(order.field.value), order.direction is OrderDirection.DESC)
        where = (filter or AssetFilterInput()).to_filter(["filter"])
        page = page_of(info, ordering, first, after, field=[])
        async with info.context.read_session_factory() as session:
            rows = await repo.list_assets(
                session, tenant_id=info.context.caller.tenant_id, where=where, ordering=ordering, page=page
            )
        return connection(rows, ordering, AssetType.from_row)
