"""The generations of one index prefix: each is an index made from the template, listed
from its mappings' ``_meta``; the live one holds the alias, which one ``_aliases`` call moves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import AsyncElasticsearch

from search.backend import GenerationError, GenerationInfo, GenerationSpec, GenerationState, SearchError
from search.elasticsearch import mappings, requests
from search.elasticsearch.responses import generation_of


class Generations:
    """Create, list, activate and drop the generations under one prefix."""

    def __init__(self, client: AsyncElasticsearch, prefix: str, clock: Callable[[], datetime]) -> None:
        self._client = client
        self._prefix = prefix
        # Injected so request-body tests can assert the generation's creation time exactly.
        self._clock = clock
        self.alias = mappings.alias_name(prefix)

    async def all(self) -> list[tuple[str, GenerationInfo]]:
        """(index name, info) of every generation, oldest first (document counts left at 0)."""
        try:
            indices = await self._client.indices.get(
                index=mappings.index_pattern(self._prefix), allow_no_indices=True, expand_wildcards="open"
            )
        except EsApiError as exc:
            raise SearchError(f"listing generations failed: {exc}") from exc
        found: list[tuple[str, GenerationInfo]] = []
        for index, body in dict(indices).items():
            info = generation_of(body, self.alias)
            if info is not None:
                found.append((index, info))
        found.sort(key=lambda item: (item[1].created_at, item[1].name))
        return found

    async def with_count(self, index: str, info: GenerationInfo) -> GenerationInfo:
        """``info`` with the index's document count."""
        response = await self._client.count(index=index, query=requests.document_count_query())
        return GenerationInfo(
            spec=info.spec,
            state=info.state,
            created_at=info.created_at,
            document_count=int(response["count"]),
        )

    async def index_of(self, name: str) -> tuple[str, GenerationInfo]:
        """The index and info of the generation called ``name``."""
        for index, info in await self.all():
            if info.name == name:
                return index, info
        raise GenerationError(f"no generation named {name!r}")

    async def create(self, spec: GenerationSpec) -> GenerationInfo:
        """See :meth:`search.backend.SearchBackend.create_generation`."""
        spec.validate()
        existing = await self.all()
        if any(info.name == spec.name for _, info in existing):
            raise GenerationError(f"generation {spec.name!r} exists")
        live = any(info.state is GenerationState.LIVE for _, info in existing)
        state = GenerationState.BUILDING if live else GenerationState.LIVE
        created_at = self._clock().isoformat()
        template = mappings.index_template(self._prefix)
        index = mappings.index_name(self._prefix, spec.name)
        try:
            # Re-put on every creation so a template change in code reaches the next generation.
            await self._client.indices.put_index_template(
                name=mappings.template_name(self._prefix),
                index_patterns=template["index_patterns"],
                priority=template["priority"],
                template=template["template"],
                meta=template["_meta"],
            )
            await self._client.indices.create(
                index=index,
                mappings=mappings.generation_mappings(spec, state, created_at),
                aliases={self.alias: {}} if state is GenerationState.LIVE else None,
            )
        except EsApiError as exc:
            raise SearchError(f"creating generation {spec.name} failed: {exc}") from exc
        return GenerationInfo(
            spec=spec, state=state, created_at=datetime.fromisoformat(created_at), document_count=0
        )

    async def activate(self, name: str) -> GenerationInfo:
        """See :meth:`search.backend.SearchBackend.activate_generation`."""
        generations = await self.all()
        target = next(((index, info) for index, info in generations if info.name == name), None)
        if target is None:
            raise GenerationError(f"no generation named {name!r}")
        index, info = target
        previous = [(i, g) for i, g in generations if g.state is GenerationState.LIVE and g.name != name]
        actions: list[dict[str, Any]] = [{"remove": {"index": i, "alias": self.alias}} for i, _ in previous]
        actions.append({"add": {"index": index, "alias": self.alias}})
        try:
            # One _aliases call: Elasticsearch applies remove + add atomically, so no search
            # ever finds the alias missing or pointing at two generations.
            await self._client.indices.update_aliases(actions=actions)
            for old_index, old in previous:
                await self._client.indices.put_mapping(
                    index=old_index,
                    meta=mappings.generation_meta(
                        old.spec, GenerationState.RETIRED, old.created_at.isoformat()
                    ),
                )
            await self._client.indices.put_mapping(
                index=index,
                meta=mappings.generation_meta(info.spec, GenerationState.LIVE, info.created_at.isoformat()),
            )
        except EsApiError as exc:
            raise SearchError(f"activating generation {name} failed: {exc}") from exc
        live = GenerationInfo(
            spec=info.spec, state=GenerationState.LIVE, created_at=info.created_at, document_count=0
        )
        return await self.with_count(index, live)

    async def drop(self, name: str) -> None:
        """See :meth:`search.backend.SearchBackend.drop_generation`."""
        index, info = await self.index_of(name)
        if info.state is GenerationState.LIVE:
            raise GenerationError(f"generation {name!r} is live; activate another one first")
        try:
            await self._client.indices.delete(index=index)
        except EsApiError as exc:
            raise SearchError(f"dropping generation {name} failed: {exc}") from exc

    async def listed(self) -> list[GenerationInfo]:
        """See :meth:`search.backend.SearchBackend.list_generations`."""
        return [await self.with_count(index, info) for index, info in await self.all()]

    async def live(self) -> GenerationInfo | None:
        """See :meth:`search.backend.SearchBackend.live_generation`."""
        for index, info in await self.all():
            if info.state is GenerationState.LIVE:
                return await self.with_count(index, info)
        return None

    async def serving(self, name: str | None) -> tuple[str, GenerationInfo]:
        """The generation a search reads: ``name``, or the live one."""
        if name is not None:
            return await self.index_of(name)
        for index, info in await self.all():
            if info.state is GenerationState.LIVE:
                return index, info
        raise SearchError("no live search generation; run `mediakg search reindex`")
