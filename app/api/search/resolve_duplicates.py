"""The `resolveDuplicates` mutation: an editor's verdict on a near-duplicate cluster
(app/media/duplicates.py ``resolve_duplicates``)."""

from __future__ import annotations

import enum
from typing import Annotated

import strawberry

from app.api.assets.types import AssetType
from app.api.context import Info
from app.api.errors import (
    ForbiddenErrorType,
    InvalidInputErrorType,
    MalformedIdErrorType,
    NotFoundErrorType,
    WrongIdTypeErrorType,
    field_mapper,
    user_error,
)
from app.api.fields import mutation
from app.api.ids import decode_id
from app.api.search.duplicates import CLUSTER_TYPE
from app.core.db import session_scope
from app.core.enums import DuplicateVerdict
from app.core.errors import DomainError
from app.media import duplicates as dup


@strawberry.enum(name="DuplicateAction", description="What an editor decides about a near-duplicate cluster.")
class DuplicateAction(enum.Enum):
    """The verdicts of resolveDuplicates."""

    MARK_DUPLICATES = strawberry.enum_value(
        "mark_duplicates",
        description="The other assets are copies of `keep`: hide them from lists and search (unless "
        "`includeDuplicates` asks for them).",
    )
    NOT_DUPLICATES = strawberry.enum_value(
        "not_duplicates",
        description="None of the cluster's scored pairs are copies: never suggest them again, even after "
        "a reprocess scores them anew.",
    )


@strawberry.input(name="ResolveDuplicatesInput", description="A verdict on one near-duplicate cluster.")
class ResolveDuplicatesInput:
    """Arguments of resolveDuplicates."""

    cluster_id: strawberry.ID = strawberry.field(description="The cluster's `id` (from `duplicates`).")
    keep: strawberry.ID = strawberry.field(description="The asset of the cluster to keep (an Asset ID).")
    action: DuplicateAction = strawberry.field(description="The verdict.")


@strawberry.type(name="ResolveDuplicatesSuccess", description="The verdict is recorded.")
class ResolveDuplicatesSuccess:
    """Result of a successful resolveDuplicates."""

    kept: AssetType = strawberry.field(description="The asset kept.")
    hidden: list[AssetType] = strawberry.field(
        description="The assets now hidden as duplicates of `kept` (empty for NOT_DUPLICATES)."
    )
    pair_count: int = strawberry.field(description="How many pairs of assets the verdict was recorded for.")


ResolveDuplicatesResult = Annotated[
    ResolveDuplicatesSuccess
    | MalformedIdErrorType
    | WrongIdTypeErrorType
    | NotFoundErrorType
    | InvalidInputErrorType
    | ForbiddenErrorType,
    strawberry.union("ResolveDuplicatesResult", description="The verdict, or why it was not recorded."),
]

_ERRORS = (MalformedIdErrorType, WrongIdTypeErrorType, NotFoundErrorType, InvalidInputErrorType)
# Errors name the argument path: the fields of `input`.
_UNDER_INPUT = field_mapper(["input"], {})


@strawberry.type
class DuplicateMutations:
    """Root mutation of duplicate review."""

    @mutation(
        description="Resolve a near-duplicate cluster: mark its other assets as duplicates of `keep` "
        "(hidden from lists and search), or declare its pairs not duplicates (never suggested again). "
        "Decisions persist across reprocessing and are audited on every asset of the cluster."
    )
    async def resolve_duplicates(
        self,
        info: Info,
        input: Annotated[ResolveDuplicatesInput, strawberry.argument(description="The verdict.")],
    ) -> ResolveDuplicatesResult:
        ctx = info.context
        try:
            member_id = decode_id(input.cluster_id, CLUSTER_TYPE, field=["clusterId"])
            keep_id = decode_id(input.keep, "Asset", field=["keep"])
            verdict = (
                DuplicateVerdict.DUPLICATE
                if input.action is DuplicateAction.MARK_DUPLICATES
                else DuplicateVerdict.NOT_DUPLICATE
            )
            async with session_scope(ctx.session_factory) as session:
                result = await dup.resolve_duplicates(
                    session,
                    tenant_id=ctx.caller.tenant_id,
                    actor=ctx.caller.actor,
                    member_id=member_id,
                    keep_id=keep_id,
                    verdict=verdict,
                )
        except DomainError as exc:
            error: ResolveDuplicatesResult = user_error(_UNDER_INPUT(exc), allowed=_ERRORS)
            return error
        found = await ctx.loaders.assets.asset_by_id.load_many([result.kept_id, *result.hidden_ids])
        rows = {row.id: row for row in found if row is not None}
        return ResolveDuplicatesSuccess(
            kept=AssetType.from_row(rows[result.kept_id]),
            hidden=[AssetType.from_row(rows[i]) for i in result.hidden_ids if i in rows],
            pair_count=len(result.decisions),
        )
