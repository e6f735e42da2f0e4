"""What a save or an export leaves on disk and what zoo.load and evaluate take: files readable as the user's
umask allows, a clear error for a model named by nothing, and one line for a split of another task's data."""
from __future__ import annotations

import json
import os
import stat
import warnings

import pytest

import zoo
from zoo import checkpoint, registry
from zoo.__main__ import main
from app_models import write_models


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_models(tmp_path_factory.mktemp("models"), tasks=("ner", "sentiment"))


def _modes(folder):
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in (folder, *folder.iterdir())}


def _written_under_umask_022(write):
    old = os.umask(0o022)
    try:
        return _modes(write())
    finally:
        os.umask(old)


def test_a_saved_checkpoint_is_readable_as_the_umask_allows(tiny, tmp_path):
    """mkdtemp's 0700 folder and safetensors' 0600 file kept a server running as another user out."""
    p = zoo.load(tiny / "sentiment-lstm")
    modes = _written_under_umask_022(lambda: checkpoint.save(
        tmp_path / "saved", p.model, {k: v for k, v in p.config.items() if k != "format"},
        files=checkpoint.read_text_files(p.folder)))
    assert modes.pop("saved") == 0o755 and modes and set(modes.values()) == {0o644}, modes


def test_an_export_is_readable_as_the_umask_allows(tiny, tmp_path):
    pytest.importorskip("onnxruntime")
    from zoo import export
    p = zoo.load(tiny / "sentiment-lstm")
    modes = _written_under_umask_022(lambda: export.to_onnx(p, tmp_path / "exported"))
    assert modes.pop("exported") == 0o755 and modes and set(modes.values()) == {0o644}, modes


@pytest.mark.parametrize("bad, error", [(None, TypeError), (123, TypeError), ("", ValueError), ("  ", ValueError)])
def test_a_model_named_by_nothing_is_a_clear_error_not_the_current_folder(bad, error):
    with pytest.raises(error, match="a model is named by a name, a folder or hf://ORG/REPO"):
        zoo.load(bad)


def test_a_file_given_as_a_model_is_called_a_file_and_one_inside_a_checkpoint_names_its_folder(tiny, tmp_path,
                                                                                              monkeypatch):
    """zoo.load("notes.txt") said "tried local folder notes.txt", as if there were no such path."""
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(registry.ModelNotFound, match=r"notes.txt is a file; a checkpoint is a folder \(config.json"):
        zoo.load(tmp_path / "notes.txt")
    weights = tiny / "ner-rnn" / "model.safetensors"
    with pytest.raises(registry.ModelNotFound, match=f"model.safetensors is a file; .*: load its folder, {tiny / 'ner-rnn'}$"):
        zoo.load(weights)
    monkeypatch.chdir(tiny)  # a relative path shaped like ORG/REPO is the file, not a Hub repo
    with pytest.raises(registry.ModelNotFound, match="^ner-rnn/model.safetensors is a file; .*: load its folder, ner-rnn$"):
        zoo.load("ner-rnn/model.safetensors")


def test_a_folder_here_named_like_a_bundled_model_is_said_and_one_without_a_checkpoint_is_passed_over(tiny, tmp_path,
                                                                                                         monkeypatch):
    import shutil
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sentiment-rnn").mkdir()  # e.g. an --out folder that holds no checkpoint
    with pytest.warns(UserWarning, match="folder without a checkpoint; loading the bundled sentiment-rnn"):
        assert zoo.load("sentiment-rnn").folder == registry.BUNDLED / "sentiment-rnn"
    shutil.copytree(tiny / "sentiment-lstm", tmp_path / "sentiment-lstm")  # a checkpoint named like a bundled one
    with pytest.warns(UserWarning, match="is loaded instead of the bundled sentiment-lstm"):
        assert zoo.load("sentiment-lstm").folder.resolve() == (tmp_path / "sentiment-lstm").resolve()
    monkeypatch.chdir(registry.BUNDLED)  # the bundled folder itself is no folder "here" named like it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert zoo.load("sentiment-rnn").folder == registry.BUNDLED / "sentiment-rnn"


def test_evaluate_on_another_tasks_data_is_one_line_not_a_traceback(tiny, conll_sample, tmp_path, capsys):
    """One line on stderr and nothing before it: a local folder's splits are read without datasets' progress bars
    (a folder not read before, so its splits are generated here, as on a first run)."""
    import shutil
    fresh = shutil.copytree(conll_sample, tmp_path / "never-read")
    assert main(["evaluate", str(tiny / "sentiment-lstm"), "--data", str(fresh), "--split", "validation"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "no label and sentence (or text) columns (it has: id, tokens, ner_tags)" in err[0]
    from datasets import Dataset
    other = Dataset.from_dict({"sentence": ["a fine film"], "label": [1]})
    with pytest.raises(ValueError, match="no tokens and ner_tags columns"):
        zoo.load(tiny / "ner-lstm").evaluate(other)


def test_evaluate_says_which_folder_answered(tiny, conll_sample, capsys):
    """A local folder named like a bundled model is found first (zoo.load's order): the line says which one ran."""
    assert main(["evaluate", str(tiny / "ner-lstm"), "--data", str(conll_sample), "--split", "validation"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["folder"] == str(tiny / "ner-lstm") and "f1" in line["metrics"]


def test_tags_by_prefix_refuses_a_text_whose_rows_would_grow_with_its_square(tiny):
    from tasks import ner
    p = zoo.load(tiny / "ner-lstm")
    assert len(p.tags_by_prefix(["w"] * ner.MAX_PREFIX_WORDS)[1]) == ner.MAX_PREFIX_WORDS
    with pytest.raises(ValueError, match=f"tags_by_prefix takes up to {ner.MAX_PREFIX_WORDS}"):
        p.tags_by_prefix(["w"] * (ner.MAX_PREFIX_WORDS + 1))
