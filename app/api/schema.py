"""The schema: root types merged from the domain packages, plus the limits and error policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.types import ExecutionContext

from app.api.assets.mutations import AssetMutations
from app.api.assets.queries import AssetQueries
from app.api.assets.subscriptions import AssetSubscriptions
from app.api.audit.queries import AuditQueries
from app.api.authz import apply_rules
from app.api.batching import SharedReads
from app.api.context import Info
from app.api.documents import ComplexityLimit, DocumentCache, PreparedDocuments
from app.api.fanout import SharedEventExecutor
from app.api.fields import field
from app.api.jobs.mutations import JobMutations
from app.api.jobs.queries import JobQueries
from app.api.jobs.subscriptions import JobSubscriptions
from app.api.limits import MAX_TOKENS, ErrorPolicy
from app.api.media.queries import MediaQueries
from app.api.media.relations import RelationQueries
from app.api.node import resolve_node
from app.api.observability import OperationTelemetry
from app.api.ops.queries import OpsQueries
from app.api.ops.types import SystemStatusType
from app.api.pagination import DEFAULT_PAGE_SIZE
from app.api.people.schema import PeopleMutations, PeopleQueries
from app.api.rate_limits import RequestRateLimiter
from app.api.scalars import SCALARS
from app.api.search.duplicates import DuplicateQueries
from app.api.search.queries import SearchQueries
from app.api.search.resolve_duplicates import DuplicateMutations
from app.api.trusted_documents import TrustedDocumentsCheck
from app.api.webhooks.mutations import WebhookMutations
from app.api.webhooks.queries import WebhookQueries
from app.core.settings import Settings
from graphql import GraphQLError


@strawberry.type(name="Query", description="Everything a client can read.")
class Query(
    AssetQueries,
    MediaQueries,
    RelationQueries,
    JobQueries,
    AuditQueries,
    SearchQueries,
    DuplicateQueries,
    OpsQueries,
    WebhookQueries,
    PeopleQueries,
):
    """Root query type."""

    @field(description="Any object by its ID, or null if it does not exist for the caller.")
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="An ID of any type.")]
    ) -> strawberry.relay.Node | None:
        node: strawberry.relay.Node | None = await resolve_node(info, id, field=["id"])
        return node


@strawberry.type(name="Mutation", description="Everything a client can change. Every mutation is audited.")
class Mutation(AssetMutations, JobMutations, DuplicateMutations, WebhookMutations, PeopleMutations):
    """Root mutation type."""


@strawberry.type(name="Subscription", description="Live streams (graphql-transport-ws or multipart HTTP).")
class Subscription(AssetSubscriptions, JobSubscriptions):
    """Root subscription type."""


@dataclass(frozen=True, slots=True)
class SchemaLimits:
    """The document limits a schema enforces (the SDL does not depend on them)."""

    max_depth: int = Settings.model_fields["max_query_depth"].default
    max_complexity: int = Settings.model_fields["max_query_complexity"].default
    max_aliases: int = Settings.model_fields["max_aliases"].default
    max_page_size: int = Settings.model_fields["max_page_size"].default

    @classmethod
    def from_settings(cls, settings: Settings) -> SchemaLimits:
        """The limits configured in ``settings``."""
        return cls(
            max_depth=settings.max_query_depth,
            max_complexity=settings.max_query_complexity,
            max_aliases=settings.max_aliases,
            max_page_size=settings.max_page_size,
        )


class CachedNameConverter(NameConverter):
    """strawberry's camel-casing, remembering each name it converted. strawberry converts the
    name of every argument of a resolver at every call (``convert_arguments``): about 5% of the
    CPU of an asset-page query went to camel-casing ``first`` and ``after`` again and again.
    The names are the schema's, so the cache is bounded by the schema's size."""

    def __init__(self) -> None:
        super().__init__(auto_camel_case=True)
        self._converted: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        converted = self._converted.get(name)
        if converted is None:
            converted = self._converted[name] = super().apply_naming_config(name)
        return converted


class MediaSchema(strawberry.Schema):
    """The strawberry schema; logging of errors is left to ErrorPolicy (it logs what it masks,
    with the request id, and nothing a client caused)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def create_schema(limits: SchemaLimits | None = None) -> MediaSchema:
    """A schema enforcing ``limits``."""
    lim = limits or SchemaLimits()

    def depth() -> SchemaExtension:
        return QueryDepthLimiter(max_depth=lim.max_depth)

    def aliases() -> SchemaExtension:
        return MaxAliasesLimiter(max_alias_count=lim.max_aliases)

    def tokens() -> SchemaExtension:
        return MaxTokensLimiter(max_token_count=MAX_TOKENS)

    # One cache per schema: what it holds depends on this schema's rules and limits.
    documents = DocumentCache()
    complexity_limit = ComplexityLimit(
        max_complexity=lim.max_complexity,
        max_page_size=lim.max_page_size,
        default_page_size=DEFAULT_PAGE_SIZE,
    )

    def prepared() -> SchemaExtension:
        return PreparedDocuments(cache=documents, limit=complexity_limit)

    # OperationTelemetry last: it must see resolver errors before ErrorPolicy masks them.
    apply_rules({"Query": Query, "Mutation": Mutation, "Subscription": Subscription}, [SystemStatusType])
    # RequestRateLimiter first: an operation over the caller's limit costs no parsing; then
    # TrustedDocumentsCheck, which fills in a document sent by hash before it is parsed;
    # PreparedDocuments after the extensions that add validation rules.
    extensions: list[Any] = [
        RequestRateLimiter,
        TrustedDocumentsCheck,
        tokens,
        depth,
        aliases,
        prepared,
        SharedReads,
        ErrorPolicy,
        OperationTelemetry,
    ]
    return MediaSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        # Subscription events executed once per group of identical subscribers.
        execution_context_class=SharedEventExecutor,
        config=StrawberryConfig(auto_camel_case=True, name_converter=CachedNameConverter()),
        scalar_overrides=SCALARS,
    )


schema = create_schema()


def export_schema() -> str:
    """The SDL of the schema (what graphql/schema.graphql must contain)."""
    return schema.as_str() + "\n"
