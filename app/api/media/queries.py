"""Root queries of the analysis graph."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.api.context import Info
from app.api.fields import field
from app.api.media.types import SceneType
from app.api.node import resolve_node


@strawberry.type
class MediaQueries:
    """Root fields of scenes."""

    @field(description="The scene with this ID, or null if it does not exist.")
    async def scene(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="A Scene ID.")]
    ) -> SceneType | None:
        node: SceneType | None = await resolve_node(info, id, field=["id"], expected="Scene")
        return node
