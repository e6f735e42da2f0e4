"""Crafted checkpoints (Hub checkpoints are third-party files): sizes beyond their bounds, regex normalizers,
deep or oddly typed JSON, parts that disagree with each other, non-float weights, a sparse file the config
matches. zoo.load refuses each quickly with a CheckpointError naming the file, and the app leaves a bad
folder out with a notice instead of failing to start."""
from __future__ import annotations

import json
import resource
import shutil
import struct
import time

import pytest
import torch
from safetensors.torch import load_file, save_file

import zoo
from zoo import limits
from app_models import write_models
from test_hostile_inputs import tiny_captioner_folder  # noqa: F401  (a fixture: a tiny caption checkpoint)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_models(tmp_path_factory.mktemp("models"), tasks=("ner", "sentiment"))


def _copy(tiny, tmp_path, name="sentiment-lstm"):
    folder = tmp_path / "ck"
    shutil.copytree(tiny / name, folder)
    return folder


def _config(folder, edit):
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))


def _tokenizer(folder, edit):
    tok = json.loads((folder / "tokenizer.json").read_text())
    edit(tok)
    (folder / "tokenizer.json").write_text(json.dumps(tok))


def _refused(folder, match, file="config.json", seconds=5.0):
    t0 = time.perf_counter()
    with pytest.raises(zoo.CheckpointError, match=match) as e:
        zoo.load(folder)
    assert file in str(e.value) and time.perf_counter() - t0 < seconds


@pytest.mark.parametrize("edit,match", [
    pytest.param(lambda c: c["model"].update(num_layers=20_000), r"model.num_layers is 20,000; the bound is 1 to 8",
                 id="20000-layers"),
    pytest.param(lambda c: c["model"].update(hidden_size=10**6), "model.hidden_size is 1,000,000; the bound", id="hidden"),
    pytest.param(lambda c: c["model"]["embedding"].update(vocab_size=10**8), "model.embedding.vocab_size", id="vocab"),
    pytest.param(lambda c: c["model"]["embedding"].update(word_dim=5000), "model.embedding.word_dim", id="embedding"),
    pytest.param(lambda c: c["model"].update(hidden_size="64"), "hidden_size must be a whole number", id="string-size"),
    pytest.param(lambda c: c["model"].update(hidden_size=True), "hidden_size must be a whole number", id="bool-size"),
    pytest.param(lambda c: c.update(max_len=-1), "max_len is -1; the bound is 0 to 100,000", id="negative-max-len"),
    pytest.param(lambda c: c.update(max_len="400"), "max_len must be a whole number", id="string-max-len"),
    pytest.param(lambda c: c.update(task=["sentiment"]), "'task' as text", id="task-as-a-list"),
    pytest.param(lambda c: c.update(labels=["negative"]), "1 labels for a head of 2 outputs", id="labels-short"),
    pytest.param(lambda c: c.update(metrics=[]), "metrics must map each split", id="metrics-a-list"),
    pytest.param(lambda c: c.update(metrics={"test": []}), "metrics must map each split", id="split-metrics-a-list"),
    pytest.param(lambda c: c.update(arch=["x"]), "arch must be text", id="arch-a-list"),
    pytest.param(lambda c: c.update(parameters="many"), "parameters must be a whole number", id="parameters-text"),
])
def test_a_config_beyond_its_bounds_or_of_the_wrong_type_is_refused_naming_the_bound(tiny, tmp_path, edit, match):
    folder = _copy(tiny, tmp_path)
    _config(folder, edit)
    _refused(folder, match)


def test_ner_labels_shorter_than_the_tag_head_are_refused(tiny, tmp_path):
    folder = _copy(tiny, tmp_path, "ner-lstm")
    _config(folder, lambda c: c.update(labels=c["labels"][:5]))
    _refused(folder, "5 labels for a head of 9 outputs")


def test_a_config_nested_10000_deep_is_a_checkpoint_error_not_a_recursion_error(tiny, tmp_path):
    folder = _copy(tiny, tmp_path)
    config = (folder / "config.json").read_text()
    (folder / "config.json").write_text(config[:-2] + ', "deep": ' + "[" * 10_000 + "]" * 10_000 + "}\n")
    _refused(folder, "nested more than 32 levels deep")


@pytest.mark.parametrize("edit,match", [
    pytest.param(lambda t: t.update(normalizer={"type": "Replace", "pattern": {"Regex": "(a|aa)+$"}, "content": "x"}),
                 "normalizer .* is not one seqzoo writes", id="catastrophic-regex"),
    pytest.param(lambda t: t["normalizer"]["normalizers"].append({"type": "Replace", "pattern": {"Regex": "a+"},
                                                                  "content": ""}), "normalizer", id="extra-regex"),
    pytest.param(lambda t: t.update(pre_tokenizer={"type": "Split", "pattern": {"Regex": "(a|aa)+$"},
                                                   "behavior": "Removed", "invert": False}), "pre_tokenizer", id="split"),
    pytest.param(lambda t: t.update(decoder={"type": "WordPiece"}), "decoder must be null", id="decoder"),
    pytest.param(lambda t: t["model"]["vocab"].update(far=10**6), r"token id 1,000,000 is beyond the \d+ rows",
                 id="id-beyond-the-embedding"),
    pytest.param(lambda t: t["model"]["vocab"].update(bad="7"), "whole numbers", id="string-id"),
])
def test_a_tokenizer_seqzoo_does_not_write_is_refused_before_it_can_run(tiny, tmp_path, edit, match):
    folder = _copy(tiny, tmp_path)
    _tokenizer(folder, edit)
    _refused(folder, match, file="tokenizer.json")


def test_a_panic_inside_tokenizers_becomes_a_checkpoint_error(tmp_path, monkeypatch):
    from tokenizers import Regex, normalizers
    monkeypatch.setenv("RUST_BACKTRACE", "0")
    evil = normalizers.Replace(Regex("(a|aa)+$"), "x")  # what the check above refuses; here run on purpose
    with pytest.raises(zoo.CheckpointError, match="tokenizer.json: the tokenizer crashed"):
        with limits.panic_guard(tmp_path):
            evil.normalize_str("a" * 2000 + "b")  # a Rust panic: pyo3's PanicException, a BaseException


@pytest.mark.parametrize("key,value,match", [("bos_id", 10**5, "model.bos_id is 100,000; the bound is 0 to 11"),
                                             ("eos_id", -1, "model.eos_id is -1"), ("bos_id", 2.0, "whole number")])
def test_a_caption_special_id_outside_the_vocabulary_is_refused(tiny_captioner_folder, tmp_path, key, value, match):  # noqa: F811
    folder = tmp_path / "cap"
    shutil.copytree(tiny_captioner_folder, folder)
    _config(folder, lambda c: c["model"].update({key: value}))
    _refused(folder, match)


@pytest.mark.parametrize("decode,match", [({"beam": 50}, "decode.beam is 50; the bound is 1 to 20"),
                                          ({"max_len": 0}, "decode.max_len is 0"), ({"alpha": "x"}, "decode.alpha")])
def test_a_caption_decoding_setting_beyond_its_bound_is_refused(tiny_captioner_folder, tmp_path, decode, match):  # noqa: F811
    folder = tmp_path / "cap"
    shutil.copytree(tiny_captioner_folder, folder)
    _config(folder, lambda c: c.update(decode={"beam": 3, "max_len": 20, "alpha": 0.0, **decode}))
    _refused(folder, match)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool])
def test_weights_that_are_not_floating_point_are_refused_though_their_shapes_fit(tiny, tmp_path, dtype):
    folder = _copy(tiny, tmp_path)
    weights = {k: v.clone() for k, v in load_file(str(folder / "model.safetensors")).items()}
    save_file({k: v.to(dtype) for k, v in weights.items()}, str(folder / "model.safetensors"))
    _refused(folder, "weights must be floating point", file="model.safetensors")


def test_a_sparse_gigabyte_weights_file_its_config_matches_is_refused_before_it_is_read(tiny, tmp_path):
    folder = _copy(tiny, tmp_path)
    _config(folder, lambda c: c["model"]["embedding"].update(vocab_size=1_000_000, word_dim=256))
    header = {"embed.words.weight": {"dtype": "F32", "shape": [1_000_000, 256], "data_offsets": [0, 2**30]}}
    raw = json.dumps(header).encode()
    with open(folder / "model.safetensors", "wb") as f:  # 1 GiB on paper, a few bytes on disk
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + 2**30)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _refused(folder, "parameters; the bound is 20,000,000", file="model.safetensors")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB: it peaked at 4.15 GB


def test_the_app_leaves_a_bad_model_folder_out_with_a_notice_and_starts(tiny, tmp_path, monkeypatch, capsys):
    from webapp import logic, models
    from webapp.ui import build
    root = tmp_path / "models"
    shutil.copytree(tiny, root)
    deep = "[" * 10_000 + "]" * 10_000
    (root / "ner-lstm" / "config.json").write_text(deep)  # a RecursionError had ended the app's start-up
    _tokenizer(root / "sentiment-rnn", lambda t: t.update(normalizer={"type": "NFKC", "x": [1]}))
    monkeypatch.setenv(models.ENV, str(root))
    models.clear_cache()
    try:
        demo = build()
        notices = {b.elem_id: b.value for b in demo.blocks.values() if (getattr(b, "elem_id", None) or "").endswith("-missing")}
        assert "ner-lstm" in notices["ner-missing"] and "sentiment-rnn" in notices["sentiment-missing"]
        *cols, _ = logic.ner("Peter visited Seoul .")
        assert cols[0] is not None and "nested more than 32 levels" in cols[3]  # rnn answers; lstm says why
        assert "ner-lstm left out" in capsys.readouterr().err
    finally:
        models.clear_cache()


def test_the_app_tries_a_bad_model_folder_once_and_cached_models_never_wait_for_it(tiny, tmp_path, monkeypatch):
    from webapp import models
    root = tmp_path / "models"
    shutil.copytree(tiny, root)
    (root / "ner-lstm" / "model.safetensors").write_bytes(b"\x00" * 20)  # truncated: it cannot load
    monkeypatch.setenv(models.ENV, str(root))
    models.clear_cache()
    calls = []
    load = zoo.load
    monkeypatch.setattr(zoo, "load", lambda *a, **k: calls.append(a[0]) or load(*a, **k))
    try:
        reasons = {models.try_load("ner-lstm")[1] for _ in range(5)}
        assert len(reasons) == 1 and None not in reasons  # the same reason each time
        assert calls.count(str(root / "ner-lstm")) == 1  # loaded once, not on every request
        assert models.try_load("ner-rnn")[0] is not None and models.try_load("ner-rnn")[0] is models.load("ner-rnn")
    finally:
        models.clear_cache()


@pytest.mark.parametrize("file", ["config.json", "tokenizer.json"])
def test_a_number_too_long_for_python_to_read_is_a_checkpoint_error_naming_the_file(tiny, tmp_path, file):
    folder = _copy(tiny, tmp_path)
    text = (folder / file).read_text().rstrip()
    (folder / file).write_text(text[:-1] + ', "x": ' + "1" * 5000 + "}")  # Python refuses over 4,300 digits
    _refused(folder, "not valid JSON", file=file)


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json", "config.json"])
def test_a_file_linked_from_outside_the_folder_is_refused_and_a_link_inside_it_is_not(tiny, tmp_path, name):
    folder = _copy(tiny, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(folder / name, outside / name)
    (folder / name).symlink_to(outside / name)  # absolute; a relative ../outside/ link reads the same
    _refused(folder, "outside the checkpoint's folder", file=name)
    (folder / name).unlink()
    (folder / "kept").mkdir()
    shutil.move(outside / name, folder / "kept" / name)
    (folder / name).symlink_to(folder / "kept" / name)
    assert zoo.load(folder).predict("a fine movie")  # the folder's own file behind a link loads


def test_an_exported_graph_linked_from_outside_the_folder_is_refused(tiny, tmp_path):
    pytest.importorskip("onnxruntime")
    from zoo import export
    out = tmp_path / "exported"
    export.to_onnx(zoo.load(tiny / "sentiment-lstm"), out)
    graph = next(out.glob("*.onnx"))
    elsewhere = tmp_path / graph.name
    shutil.move(graph, elsewhere)
    graph.symlink_to(elsewhere)
    _refused(out, "outside the checkpoint's folder", file=graph.name)


@pytest.mark.parametrize("encoder", ["../../../etc/passwd", 7])
def test_a_caption_checkpoint_naming_an_unknown_image_encoder_is_refused_at_load(tiny_captioner_folder, tmp_path, encoder):  # noqa: F811
    """It loaded, then every image failed with the same error (exit 1 from predict, not 2 at load)."""
    folder = tmp_path / "cap"
    shutil.copytree(tiny_captioner_folder, folder)
    _config(folder, lambda c: c.update({"encoder": encoder}))
    _refused(folder, "unknown image encoder")


def test_a_caption_checkpoint_without_decode_settings_says_which_defaults_it_decodes_with(tiny_captioner_folder,  # noqa: F811
                                                                                        tmp_path):
    """It decoded with beam 3 without a word; a full record (every trained checkpoint's) loads without a warning."""
    import warnings
    folder = tmp_path / "cap"
    shutil.copytree(tiny_captioner_folder, folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoo.load(folder)
    _config(folder, lambda c: c.update({"decode": {"beam": 2}}))
    with pytest.warns(UserWarning, match="records no decode max_len, alpha; decoding with max_len 20, alpha 0.0"):
        p = zoo.load(folder)
    assert p.decode_cfg == {"beam": 2, "max_len": 20, "alpha": 0.0}
    _config(folder, lambda c: c.pop("decode"))
    with pytest.warns(UserWarning, match="no decode beam, max_len, alpha; decoding with beam 3, max_len 20"):
        zoo.load(folder)
