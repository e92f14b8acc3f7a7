"""Time codes: where a hit's highlighted words are spoken or shown. Both backends use one helper
(``search.query.time_codes``), so they report a segment once however many fragments mark it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from search.documents import TimedText, TimedWord, timed_rows, timed_texts
from search.query import Highlight, SearchQuery, TextField, TimeCode, time_codes
from tests.search.fake_es import FakeElasticsearch, backend_for

TRANSCRIPT = (TimedText(40.0, 41.5, "the ferry leaves"), TimedText(42.0, 44.0, "the ferry arrives"))
OCR = (TimedText(41.0, 43.0, "FERRY TIMES"),)
SPOKEN = "the ferry arrives at the harbour"


def segments(field: TextField) -> Sequence[TimedText]:
    return {TextField.TRANSCRIPT: TRANSCRIPT, TextField.OCR: OCR}[field]


def test_a_segment_marked_by_two_fragments_is_one_time_code() -> None:
    highlights = (
        Highlight(TextField.TRANSCRIPT, "the <mark>ferry</mark> leaves"),
        Highlight(TextField.TITLE, "<mark>Ferry</mark> news"),  # no times: ignored
        Highlight(TextField.TRANSCRIPT, "the <mark>ferry</mark> arrives"),
        Highlight(TextField.OCR, "<mark>FERRY</mark> TIMES"),
    )

    assert time_codes(highlights, segments) == (
        TimeCode(TextField.TRANSCRIPT, 40.0, 41.5, "the ferry leaves"),
        TimeCode(TextField.TRANSCRIPT, 42.0, 44.0, "the ferry arrives"),
        TimeCode(TextField.OCR, 41.0, 43.0, "FERRY TIMES"),
    )


def test_no_marked_word_no_time_code() -> None:
    assert time_codes((Highlight(TextField.TRANSCRIPT, "the ferry leaves"),), segments) == ()


async def test_elasticsearch_fragments_of_one_segment_give_one_time_code() -> None:
    # Elasticsearch returns several fragments per field; both mark words of the same segment.
    source: dict[str, Any] = {
        "doc_id": "m:a1:s1",
        "doc_type": "moment",
        "asset_id": "a1",
        "scene_id": "s1",
        "start_s": 40.0,
        "end_s": 50.0,
        "title": "Harbour",
        "transcript_segments": [[42.0, 44.0, SPOKEN]],
        "ocr_segments": [],
    }
    hit = {
        "_index": "mkg-search-gen-g1",
        "_id": "t1:m:a1:s1",
        "_score": 2.0,
        "_source": source,
        "highlight": {"transcript": ["the <mark>ferry</mark> arrives", "at the <mark>harbour</mark>"]},
    }
    fake = FakeElasticsearch()
    created = "2024-01-01T00:00:00+00:00"
    meta = {"mediakg": {"generation": "g1", "state": "live", "created_at": created, "vectors": {}}}
    fake.expect(
        "GET",
        "/mkg-search-gen-*",
        {"mkg-search-gen-g1": {"aliases": {"mkg-search": {}}, "mappings": {"_meta": meta}, "settings": {}}},
    )
    fake.expect("POST", "/_msearch", {"responses": [{"hits": {"hits": [hit]}}]})

    results = await backend_for(fake).search(SearchQuery(tenant_id="t1", text="ferry harbour"))

    (found,) = results.hits
    assert found.time_codes == (TimeCode(TextField.TRANSCRIPT, 42.0, 44.0, SPOKEN),)


def test_timed_words_start_the_time_code_at_the_first_matched_word() -> None:
    words = (
        TimedWord(0.0, 0.4, "Good"),
        TimedWord(0.4, 0.9, "evening,"),
        TimedWord(1.9, 2.3, "fresh"),
        TimedWord(2.3, 2.6, "bread"),
    )
    spoken = (TimedText(0.0, 2.6, "Good evening, fresh bread", words),)
    highlights = (Highlight(TextField.TRANSCRIPT, "Good evening, fresh <mark>bread</mark>"),)
    assert time_codes(highlights, lambda _: spoken) == (
        TimeCode(TextField.TRANSCRIPT, 2.3, 2.6, "Good evening, fresh bread"),
    )
    # Stored and read back by both backends with their words; rows of three still read.
    assert timed_texts(timed_rows(spoken)) == spoken
    assert timed_texts([[1.0, 2.0, "old row"]]) == (TimedText(1.0, 2.0, "old row"),)
