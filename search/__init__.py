"""Hybrid search: the backend interface, fusion, and the embedded and Elasticsearch backends.

Callers depend on :class:`search.backend.SearchBackend` and the dataclasses in
:mod:`search.documents` and :mod:`search.query`; :func:`search.factory.open_backend` picks
the implementation from the ``search_url`` setting. See ``docs/search.md``.
"""
