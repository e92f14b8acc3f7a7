"""The model layer's instruments are the ones the service's table lists (and so the ones the
dashboards and alerts name): same kind, unit, description and buckets. The library creates them
on the service's meter through the OpenTelemetry API; any difference would make a second,
conflicting instrument instead of recording into the service's."""

from __future__ import annotations

import pytest

from app.core.telemetry.instruments import SPECS as TABLE
from inference import telemetry
from inference.triton import metrics_scrape


@pytest.mark.parametrize("spec", [*telemetry.SPECS, *metrics_scrape.SPECS], ids=lambda spec: spec.name)
def test_the_instrument_is_the_one_the_service_lists(spec: telemetry.InstrumentSpec) -> None:
    listed = TABLE[spec.name]
    assert (spec.kind, spec.unit, spec.description, spec.buckets) == (
        listed.kind,
        listed.unit,
        listed.description,
        listed.buckets,
    )


def test_the_library_creates_every_model_instrument_of_the_table() -> None:
    ours = {spec.name for spec in (*telemetry.SPECS, *metrics_scrape.SPECS)}
    model_layer = {
        name for name in TABLE if name.startswith(("mediakg.model.", "mediakg.triton.", "hw.gpu."))
    }
    # The drift gauge is the service's own (its drift monitor sets it).
    assert model_layer - ours == {"mediakg.model.drift"}
