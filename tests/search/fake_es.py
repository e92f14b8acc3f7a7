"""A scripted Elasticsearch at the HTTP layer: only the network is replaced.

The real client, serializer, transport and ``helpers.async_bulk`` run unchanged; the node
class is elastic_transport's own httpx node with an ``httpx.MockTransport`` where the socket
would be. Each test scripts the responses in order and asserts every request it captured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx
from elastic_transport import HttpxAsyncHttpNode, NodeConfig
from elasticsearch import AsyncElasticsearch

from search.elasticsearch import ElasticsearchBackend

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


@dataclass
class Request:
    """One captured request: method, unquoted path with query, and the decoded body."""

    method: str
    target: str
    body: Any


@dataclass
class FakeElasticsearch:
    """Answers requests from a script and records them."""

    script: list[tuple[str, str, int, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def expect(self, method: str, path: str, response: Any, status: int = 200) -> None:
        """Answer the next request (which must be ``method path``) with ``response``."""
        self.script.append((method, path, status, response))

    def handle(self, request: httpx.Request) -> httpx.Response:
        raw = request.content.decode()
        if not raw:
            body: Any = None
        elif "ndjson" in request.headers.get("content-type", ""):
            body = [json.loads(line) for line in raw.splitlines() if line]
        else:
            body = json.loads(raw)
        target = unquote(request.url.raw_path.decode())
        self.requests.append(Request(request.method, target, body))
        assert self.script, f"unexpected request {request.method} {target}"
        method, path, status, response = self.script.pop(0)
        assert (request.method, target.split("?")[0]) == (method, path), (request.method, target)
        return httpx.Response(
            status,
            json=response,
            headers={"x-elastic-product": "Elasticsearch", "content-type": "application/json"},
        )


def node_class(fake: FakeElasticsearch) -> type[HttpxAsyncHttpNode]:
    """An httpx node whose client sends to ``fake`` instead of the network."""
    handler: Callable[[httpx.Request], httpx.Response] = fake.handle

    class FakeNode(HttpxAsyncHttpNode):
        def __init__(self, config: NodeConfig) -> None:
            super().__init__(config)
            self.client = httpx.AsyncClient(
                base_url=f"{config.scheme}://{config.host}:{config.port}",
                transport=httpx.MockTransport(handler),
            )

    return FakeNode


def backend_for(fake: FakeElasticsearch, refresh: bool | str = False) -> ElasticsearchBackend:
    """An ElasticsearchBackend whose client talks to ``fake``."""
    client = AsyncElasticsearch("http://es.test:9200", node_class=node_class(fake))
    return ElasticsearchBackend(client, prefix="mkg", refresh=refresh, clock=lambda: NOW)  # type: ignore[arg-type]
