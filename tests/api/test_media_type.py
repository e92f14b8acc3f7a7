"""The GraphQL over HTTP response media type: negotiated, with request errors as 400."""

from __future__ import annotations

import httpx
import pytest

from app.api.media_type import GRAPHQL_RESPONSE_JSON, LEGACY_JSON, negotiate

pytestmark = pytest.mark.db

SPEC = {"accept": GRAPHQL_RESPONSE_JSON, "content-type": "application/json"}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, LEGACY_JSON),
        ("*/*", LEGACY_JSON),
        ("application/json", LEGACY_JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"application/json;q=1, {GRAPHQL_RESPONSE_JSON};q=0.5", LEGACY_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0", LEGACY_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};charset=utf-8;q=0.9, text/html", GRAPHQL_RESPONSE_JSON),
    ],
)
def test_negotiate(accept: str | None, expected: str) -> None:
    assert negotiate(accept) == expected


async def test_a_valid_query_answers_in_the_spec_media_type(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": "{ __typename }"}, headers=SPEC)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        ({"query": "{"}, "Syntax Error"),
        ({"query": "{ noSuchField }"}, "Cannot query field 'noSuchField'"),
        (
            {"query": "query ($id: ID!) { asset(id: $id) { id } }", "variables": {"id": {"no": 1}}},
            "Variable '$id'",
        ),
    ],
)
async def test_request_errors_are_400_without_data(
    http: httpx.AsyncClient, body: dict[str, object], message_part: str
) -> None:
    response = await http.post("/graphql", json=body, headers=SPEC)
    assert response.status_code == 400
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    payload = response.json()
    assert "data" not in payload
    assert message_part in payload["errors"][0]["message"]
    # The legacy media type keeps its contract: 200 with data null.
    legacy = await http.post("/graphql", json=body, headers={"accept": "application/json"})
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/json"
    assert legacy.json()["data"] is None
