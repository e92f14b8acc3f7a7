"""Root queries of the operations views."""

from __future__ import annotations

import strawberry

from app.api.context import Info
from app.api.fields import field
from app.api.ops.status import collect_status
from app.api.ops.types import SystemStatusType


@strawberry.type
class OpsQueries:
    """Root fields of the operations views."""

    @field(
        description=(
            "Queue depths, live workers, loaded models, backend health and breaker states, "
            "checked now (each check is bounded to 5 seconds)."
        )
    )
    async def system_status(self, info: Info) -> SystemStatusType:
        return SystemStatusType(status=await collect_status(info.context.services))
