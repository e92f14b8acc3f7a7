"""Every asset kind gets its language from what the pipeline read: document text, on-screen
text (real OCR model), speech (real Whisper)."""

from __future__ import annotations

import pytest

from tests.fixtures.media import SpeechClip, image_bytes, text_image
from tests.jobs.stages.conftest import AUDIO_CHAIN, IMAGE_CHAIN, TEXT_CHAIN, Harness

ENGLISH_NOTE = "# Market day\n\nShe sells fresh bread at the market every morning, and the queue is long.\n"
GERMAN_NOTE = (
    "# Markttag\n\nSie verkauft jeden Morgen frisches Brot auf dem Markt, und die Schlange ist lang.\n"
)


async def test_text_documents_get_the_language_they_are_written_in(harness: Harness) -> None:
    english = await harness.ingest("notes.md", ENGLISH_NOTE.encode(), title="Notes")
    german = await harness.ingest("notizen.md", GERMAN_NOTE.encode(), title="Notizen")
    short = await harness.ingest("memo.txt", b"ok then", title="Memo")
    for asset_id in (english, german, short):
        await harness.chain(asset_id, TEXT_CHAIN)
    assert (await harness.asset(english)).language == "en"
    assert (await harness.asset(german)).language == "de"
    # Too little text to tell: left unset rather than guessed.
    assert (await harness.asset(short)).language is None


@pytest.mark.models
async def test_an_image_gets_the_language_of_its_text(harness: Harness) -> None:
    poster = image_bytes(
        text_image("Fresh bread at the market every morning", size=(1500, 200), font_size=44)
    )
    asset_id = await harness.ingest("poster.png", poster, title="Poster")
    await harness.chain(asset_id, IMAGE_CHAIN)
    assert (await harness.asset(asset_id)).language == "en"


@pytest.mark.models
async def test_speech_language_comes_from_the_words(harness: Harness, speech_clip: SpeechClip) -> None:
    asset_id = await harness.ingest("speech.wav", speech_clip.path, title="Two sentences")
    await harness.chain(asset_id, AUDIO_CHAIN)
    assert (await harness.asset(asset_id)).language == "en"
