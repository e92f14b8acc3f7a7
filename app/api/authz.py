"""Who may call what: one table of rules, applied to the schema's fields when it is built.

Every root field (query, mutation, subscription) needs a rule; a root field without one is
refused to everybody (fail closed) and ``tests/api/test_authz_matrix.py`` fails until it gets
one. ``node(id:)`` is checked per type of the ID, and a few fields of other types (operator
details) need more than their parent does.

A caller lacking the scope gets error code FORBIDDEN: a ``Forbidden`` member of the result
union for mutations, a GraphQL error for queries and subscriptions. A missing or bad key
never gets this far (HTTP 401 / WebSocket close 4401, see ``app/api/auth.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver, SyncExtensionResolver
from strawberry.types import Info as StrawberryInfo
from strawberry.types.base import get_object_definition

from app.api.errors import ForbiddenErrorType, UserErrorCode
from app.api.ids import parse_global_id
from app.core.errors import DomainError
from app.tenancy.models import Scope
from app.tenancy.service import ForbiddenError

READ, WRITE, ADMIN = Scope.READ, Scope.WRITE, Scope.ADMIN

ROOT_RULES: dict[str, dict[str, Scope]] = {
    "Query": {
        "asset": READ,
        "assets": READ,
        "scene": READ,
        "job": READ,
        "jobs": READ,
        "search": READ,
        "facets": READ,
        "searchByImage": READ,
        "duplicates": READ,
        "relationGraph": READ,
        "node": READ,
        "systemStatus": READ,
        "auditEvents": ADMIN,
        "webhooks": ADMIN,
        "webhookDeliveries": ADMIN,
        "people": READ,
    },
    "Mutation": {
        "ingestAsset": WRITE,
        "ingestAssets": WRITE,
        "updateAsset": WRITE,
        "deleteAsset": WRITE,
        "reprocessAsset": WRITE,
        "cancelJob": WRITE,
        "retryJob": WRITE,
        "resolveDuplicates": WRITE,
        "createWebhook": ADMIN,
        "updateWebhook": ADMIN,
        "deleteWebhook": ADMIN,
        "redeliverWebhook": ADMIN,
        "renamePerson": WRITE,
        "hidePerson": WRITE,
        "mergePeople": WRITE,
        "moveFaces": WRITE,
    },
    "Subscription": {
        "assetEvents": READ,
        "jobProgress": READ,
    },
}
"""Scope each root field needs, by root type and schema field name."""

NODE_RULES: dict[str, Scope] = {
    "Asset": READ,
    "Scene": READ,
    "TranscriptSegment": READ,
    "Detection": READ,
    "SimilarityEdge": READ,
    "Job": READ,
    "JobStage": READ,
    "AuditEvent": ADMIN,
    "Person": READ,
}
"""Scope ``node(id:)`` needs, by the type the ID names (the same as that type's own root field)."""

FIELD_RULES: dict[str, dict[str, Scope]] = {
    # Which processes run where, on which hosts and models: the operator's view. Any reader
    # sees the queue depths and how many workers are alive. (What a tenant's own jobs used,
    # Job.cost, Job.models, JobStage.modelUsage and Asset.modelUsage, names models, versions,
    # seconds and confidences but no host or backend: the read scope of the job or asset.)
    "SystemStatus": {
        "workers": ADMIN,
        "modelsLoaded": ADMIN,
        "backends": ADMIN,
        "breakers": ADMIN,
        "routing": ADMIN,
    },
}
"""Fields of non-root types that need more than the root field that reached them."""

BLOB_SCOPE = READ
"""Scope the /blobs route needs from a key (a signed URL carries its own permission)."""


def forbidden_message(scope: Scope) -> str:
    """The message of a FORBIDDEN error."""
    return f"this operation needs an API key with the {scope.value!r} scope"


def _check(info: StrawberryInfo[Any, Any], scope: Scope | None) -> Scope | None:
    """The missing scope, or None when the caller may go on."""
    caller = info.context.caller
    if scope is None:
        return Scope.ADMIN  # no rule: nobody (the matrix test names the field)
    return None if caller.has(scope) else scope


class Authorize(FieldExtension):
    """Refuses the field to callers without ``scope`` (None: to everybody)."""

    def __init__(self, scope: Scope | None, *, typed_error: bool) -> None:
        self.scope = scope
        self.typed_error = typed_error

    def _refuse(self, missing: Scope) -> Any:
        if self.typed_error:
            return ForbiddenErrorType(
                message=forbidden_message(missing), code=UserErrorCode.FORBIDDEN, field=None
            )
        raise ForbiddenError(forbidden_message(missing))

    def resolve(
        self, next_: SyncExtensionResolver, source: Any, info: StrawberryInfo[Any, Any], **kwargs: Any
    ) -> Any:
        missing = _check(info, self.scope)
        return self._refuse(missing) if missing is not None else next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: StrawberryInfo[Any, Any], **kwargs: Any
    ) -> Any:
        missing = _check(info, self.scope)
        if missing is not None:
            return self._refuse(missing)
        result = next_(source, info, **kwargs)
        # A subscription's resolver gives an async generator, which is not awaited.
        return await result if inspect.isawaitable(result) else result


class AuthorizeNode(FieldExtension):
    """``node(id:)``: the scope of the type the ID names. Malformed IDs pass on to the
    resolver, which reports them."""

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: StrawberryInfo[Any, Any], **kwargs: Any
    ) -> Any:
        scope: Scope | None = READ
        try:
            type_name, _ = parse_global_id(str(kwargs.get("id", "")), field=["id"])
        except DomainError:
            pass
        else:
            scope = NODE_RULES.get(type_name, READ)
        missing = _check(info, scope)
        if missing is not None:
            raise ForbiddenError(forbidden_message(missing))
        return await next_(source, info, **kwargs)


def _fields(cls: type) -> Iterable[Any]:
    definition = get_object_definition(cls, strict=True)
    return definition.fields


def schema_name(field: Any) -> str:
    """The GraphQL name of a strawberry field (the schema camel-cases Python names)."""
    if field.graphql_name:
        return str(field.graphql_name)
    head, *rest = str(field.python_name).split("_")
    return head + "".join(part.capitalize() for part in rest)


def apply_rules(roots: dict[str, type], others: Iterable[type]) -> None:
    """Attach the rules to the fields of ``roots`` (root type name -> class) and ``others``;
    safe to call again (a field is authorised once)."""
    for root_name, cls in roots.items():
        rules = ROOT_RULES.get(root_name, {})
        for field in _fields(cls):
            if any(isinstance(e, Authorize | AuthorizeNode) for e in field.extensions):
                continue
            name = schema_name(field)
            if root_name == "Query" and name == "node":
                field.extensions.append(AuthorizeNode())
            else:
                field.extensions.append(Authorize(rules.get(name), typed_error=root_name == "Mutation"))
    for cls in others:
        definition = get_object_definition(cls, strict=True)
        rules = FIELD_RULES.get(definition.name, {})
        for field in definition.fields:
            name = schema_name(field)
            if name in rules and not any(isinstance(e, Authorize) for e in field.extensions):
                field.extensions.append(Authorize(rules[name], typed_error=False))
