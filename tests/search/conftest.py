"""Fixtures for the search tests: a backend of each kind and a small generated corpus.

The ``backend`` fixture is parametrised over both implementations; the Elasticsearch one
runs only where ``MEDIAKG_TEST_ELASTICSEARCH_URL`` points at a real cluster (it cannot run
on the development machine) and is skipped with that reason otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from search.backend import GenerationSpec, SearchBackend, VectorSpec
from search.documents import VectorField
from search.embedded import EmbeddedBackend, ann
from tests.search.corpus import TEXT_DIMS, TEXT_MODEL, VISUAL_DIMS, VISUAL_MODEL

ES_URL = os.environ.get("MEDIAKG_TEST_ELASTICSEARCH_URL", "")

SPEC = GenerationSpec(
    name="g1",
    vectors={
        VectorField.TEXT: VectorSpec(TEXT_DIMS, TEXT_MODEL),
        VectorField.VISUAL: VectorSpec(VISUAL_DIMS, VISUAL_MODEL),
    },
)


@pytest.fixture(
    params=[
        "embedded",
        # The same backend with every vector field searched through its HNSW graph, even
        # under a filter allowing a handful of rows (search/embedded/ann.py).
        "embedded-ann",
        pytest.param("elasticsearch", marks=pytest.mark.elasticsearch),
    ]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchBackend]:
    """An empty backend with no generation yet."""
    if request.param in ("embedded", "embedded-ann"):
        graph = request.param == "embedded-ann"
        embedded = EmbeddedBackend(
            tmp_path / "search" / "index.sqlite3",
            ann_threshold=1 if graph else None,
            ann_exact_below=0 if graph else ann.EXACT_BELOW,
            # Built in the first search, so every search goes through the graph.
            ann_background=not graph,
        )
        yield embedded
        await embedded.aclose()
        return
    if not ES_URL:
        pytest.skip("MEDIAKG_TEST_ELASTICSEARCH_URL is not set (Elasticsearch cannot run on this machine)")
    from elasticsearch import AsyncElasticsearch

    from search.elasticsearch import ElasticsearchBackend, mappings

    prefix = f"mkgtest-{uuid.uuid4().hex[:10]}"
    client = AsyncElasticsearch(ES_URL)
    es = ElasticsearchBackend(client, prefix=prefix, refresh="wait_for")
    yield es
    await client.indices.delete(index=mappings.index_pattern(prefix), allow_no_indices=True)
    await client.indices.delete_index_template(name=mappings.template_name(prefix))
    await es.aclose()


@pytest.fixture
def exact_knn(backend: SearchBackend) -> bool:
    """Whether kNN is exact (embedded) or HNSW over int8 vectors (Elasticsearch)."""
    return isinstance(backend, EmbeddedBackend)
