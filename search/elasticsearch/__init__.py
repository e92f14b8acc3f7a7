"""The production search backend: Elasticsearch 9.x through the official async client.

- One index per generation (``<prefix>-search-gen-<name>``) created from an index template
  (``text`` fields with the English analyser and ``raw`` keyword subfields) plus the
  generation's ``dense_vector`` fields (cosine, ``int8_hnsw``, dims from the spec). The alias
  ``<prefix>-search`` points at the live one; ``activate_generation`` moves it with one
  ``POST _aliases`` (remove + add), which Elasticsearch applies atomically.
- Writes: ``helpers.async_bulk`` with ``version_type=external`` and the asset's version, so a
  late write never replaces a newer one (409 -> reported as stale); other per-document
  errors are reported, not raised.
- Search: BM25 and one kNN search per query vector go out together in one ``_msearch``; the
  tenant and filters sit inside each ``knn`` clause (pre-filtering, so k hits still come back)
  and in the BM25 query's ``filter``. The lists are fused in Python (:mod:`search.fusion`).

Modules: ``mappings`` (index template, mappings, query clauses), ``sources`` (the documents
an asset becomes), ``requests`` (search, facet and delete bodies), ``responses`` (reading
answers), ``generations`` (index admin and the alias) and ``backend``
(:class:`ElasticsearchBackend`).
"""

from search.elasticsearch.backend import ElasticsearchBackend, Refresh
from search.elasticsearch.requests import num_candidates
from search.elasticsearch.sources import asset_sources

__all__ = ["ElasticsearchBackend", "Refresh", "asset_sources", "num_candidates"]
