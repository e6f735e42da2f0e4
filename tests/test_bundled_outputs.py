"""The bundled models answer as they did before the code around them was reorganised: the same tags, labels
and captions, and probabilities within 1e-5, on a fixed sample (tests/bundled_outputs.py recorded them)."""
import json
from pathlib import Path

import pytest

import bundled_outputs

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "bundled_outputs.json").read_text())


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_bundled_model_gives_the_recorded_outputs(name):
    now = bundled_outputs.outputs(name)
    if name.startswith("sentiment"):
        assert now == pytest.approx(RECORDED[name], abs=1e-5)
    else:
        assert now == RECORDED[name]


def test_every_bundled_model_of_before_is_still_recorded():
    assert set(bundled_outputs.bundled()) == set(RECORDED)
