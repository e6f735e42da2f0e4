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
    if name.startswith(("sentiment", "imdb")):  # probabilities: float rounding moves with the batch route
        assert now == pytest.approx(RECORDED[name], abs=1e-5)
    else:
        assert now == RECORDED[name]


def test_every_bundled_model_is_recorded():
    assert set(bundled_outputs.bundled()) == set(RECORDED)


def test_the_whole_zoo_stays_under_its_40_mb_budget():
    from zoo import registry
    total = sum(f.stat().st_size for f in registry.BUNDLED.rglob("*") if f.is_file())
    assert total <= 40_000_000, f"the bundled zoo is {total / 1e6:.1f} MB"


def test_every_bundled_card_loads_its_model_by_name():
    """Three cards, rewritten by a script given the folder's path, showed zoo.load("zoo/checkpoints/ner-rnn"),
    a path that works only from the repository's root."""
    from zoo import registry
    for name in registry.list_models():
        card = (registry.BUNDLED / name / "README.md").read_text(encoding="utf-8")
        assert f'model = zoo.load("{name}")' in card and f"python -m zoo evaluate {name} " in card, name


def test_caption_models_record_how_many_images_their_scores_cover():
    """train/caption_decoding.py refuses data whose split sizes differ from these (a cut copy of Flickr8k)."""
    import zoo
    for arch in ("rnn", "lstm", "bilstm"):
        metrics = zoo.load(f"caption-{arch}").config["metrics"]
        assert metrics["validation"]["images"] == metrics["test"]["images"] == 1000


def test_the_zoo_lists_twelve_models_three_per_pattern_and_data():
    import zoo
    names = zoo.list_models()
    assert len(names) == 12
    for prefix in ("ner", "sentiment", "imdb", "caption"):
        assert {f"{prefix}-{a}" for a in ("rnn", "lstm", "bilstm")} <= set(names)


def test_the_readmes_results_table_is_each_bundled_models_recorded_test_score():
    """README "Results at a glance": each row's value is the test metric in the model's config.json (which the
    tests of each task measure again on the data)."""
    import re

    import zoo
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z]+-[a-z]+)` \| [^|]+ \| [^|]+ \| ([0-9.]+) \|$", readme, flags=re.M)
    assert sorted(name for name, _ in rows) == zoo.list_models()
    for name, value in rows:
        cfg = zoo.load(name).config
        assert value == f"{cfg['metrics']['test'][cfg['metric']]:.2f}", name


def test_no_bundled_cards_training_command_writes_into_the_bundled_folder():
    """Three cards gave `--out zoo/checkpoints/sentiment-lstm`, which the training scripts refuse."""
    from zoo import registry
    for name in registry.list_models():
        card = (registry.BUNDLED / name / "README.md").read_text(encoding="utf-8")
        command = next(line for line in card.splitlines() if line.startswith("python train/"))
        assert "zoo/checkpoints" not in command, name
