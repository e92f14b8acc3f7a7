"""Cached documents: the same text is parsed and validated once per schema, and the complexity
limit still reads each request's variables."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema

from app.api import documents
from app.api.documents import DocumentCache
from graphql import DocumentNode, parse
from tests.api.conftest import GraphQLClient

NESTED = (
    "query($n: Int!) { assets(first: $n) { edges { node { scenes(first: $n) { edges { node { id } } } } } } }"
)


async def test_a_cached_document_is_still_refused_for_large_variables(gql: GraphQLClient) -> None:
    # Small first: the document is cached as valid; the large request must still be refused.
    assert await gql(NESTED, {"n": 10}) == {"data": {"assets": {"edges": []}}}
    big = await gql(NESTED, {"n": 100})
    assert big["data"] is None
    assert [e["extensions"] for e in big["errors"]] == [
        {"code": "QUERY_TOO_COMPLEX", "complexity": 20301, "limit": 5000}
    ]
    assert await gql(NESTED, {"n": 10}) == {"data": {"assets": {"edges": []}}}


async def test_the_same_text_is_parsed_and_validated_once(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    validated: list[DocumentNode] = []

    def counting_parse(text: str, **options: Any) -> DocumentNode:
        parsed.append(text)
        return parse(text, **options)

    validate = strawberry_schema.validate_document

    def counting_validate(schema: Any, document: DocumentNode, rules: Any) -> Any:
        validated.append(document)
        return validate(schema, document, rules)

    # Spies around the real functions: strawberry parses; PreparedDocuments validates, or
    # strawberry does when the document is not from the cache.
    monkeypatch.setattr(strawberry_schema, "parse", counting_parse)
    monkeypatch.setattr(strawberry_schema, "validate_document", counting_validate)
    monkeypatch.setattr(documents, "validate_document", counting_validate)
    text = "query Once($n: Int!) { assets(first: $n) { edges { node { id } } } }"
    for n in (1, 2, 3):
        assert await gql(text, {"n": n}) == {"data": {"assets": {"edges": []}}}
    assert parsed == [text]
    assert len(validated) == 1


async def test_validation_errors_of_a_cached_document_are_answered_every_time(gql: GraphQLClient) -> None:
    document = "{ assets { edges { node { id nope } } } }"
    first = await gql(document)
    assert first == {
        "data": None,
        "errors": [
            {
                "message": "Cannot query field 'nope' on type 'Asset'.",
                "locations": [{"line": 1, "column": 30}],
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ],
    }
    assert await gql(document) == first


async def test_syntax_errors_are_answered_every_time(gql: GraphQLClient) -> None:
    first = await gql("{ assets { ")
    assert [e["message"] for e in first["errors"]] == ["Syntax Error: Expected Name, found <EOF>."]
    assert await gql("{ assets { ") == first


def test_the_cache_forgets_the_least_recently_used_text() -> None:
    cache = DocumentCache(size=2)
    _, b, _ = (cache.put(text, parse(text)) for text in ("{ a }", "{ b }", "{ c }"))
    assert len(cache) == 2
    assert cache.get("{ a }") is None
    assert cache.get("{ b }") is b
    cache.put("{ d }", parse("{ d }"))  # b was used after c: c goes
    assert cache.get("{ c }") is None
    assert cache.get("{ b }") is b
