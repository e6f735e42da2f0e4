"""Hostile input the other test files do not already cover, per task and per API: binary data, wrong types,
text over the token limit, NaN / infinite / mis-sized feature vectors, images that are empty, too big or
decompression bombs, and malformed checkpoints and training states. Each gets a result or a clear error of
the documented type (TypeError for a wrong type, ValueError for a bad value, CheckpointError / StateError
for a bad file); nothing is ever unpickled.

"""
from __future__ import annotations

import json
import pickle
import shutil
import unicodedata

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

import zoo
from tasks import caption, image_encoder
from zoo import checkpoint, resume
from app_models import write_models
from test_caption import _tiny_tokenizer, tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny untrained NER and sentiment checkpoints in the real format (tests/app_models.py)."""
    return write_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def captioner():
    return caption.Predictor(tiny_model(vocab_size=12), {"model": {}, "decode": caption.DEFAULT_DECODE}, {"tokenizer.json": _tiny_tokenizer()})


TEXT_TASKS = ["ner-lstm", "sentiment-bilstm"]


# --- text predictors (NER, sentiment) ----------------------------------------------------------------

@pytest.mark.parametrize("name", TEXT_TASKS)
@pytest.mark.parametrize("bad", [b"Seoul", bytearray(b"good"), memoryview(b"x"), float("nan"), {"text": "Seoul"}],
                         ids=["bytes", "bytearray", "memoryview", "nan", "dict"])
def test_binary_or_non_text_input_is_a_type_error(tiny, name, bad):
    with pytest.raises(TypeError, match="expected"):
        zoo.load(tiny / name).predict(bad)


@pytest.mark.parametrize("name", TEXT_TASKS)
def test_binary_bytes_decoded_as_text_get_a_result(tiny, name):
    garbage = bytes(range(256)).decode("latin-1") + np.random.default_rng(0).bytes(2000).decode("utf-8", "replace")
    assert zoo.load(tiny / name).predict(garbage)


@pytest.mark.parametrize("name", TEXT_TASKS)
def test_text_over_the_token_limit_is_refused_though_under_the_character_limit(tiny, name):
    with pytest.raises(ValueError, match="^60,000 tokens; the limit is 50,000$"):
        zoo.load(tiny / name).predict("a " * 60_000)  # 120,000 characters, 60,000 words


def test_a_token_list_over_the_limit_or_with_a_non_string_is_refused(tiny):
    p = zoo.load(tiny / "ner-lstm")
    with pytest.raises(ValueError, match="limit"):
        p.predict(["a"] * 50_001)
    with pytest.raises(TypeError, match="token list holds strings; token 1 is int"):
        p.predict(["Seoul", 3])


NFD = "Jose\u0301 Zu\u0301n\u0303iga met Bjo\u0308rk in \u1100\u1161 Seoul ."  # decomposed, as macOS sends it


def test_text_in_nfd_form_is_tokenised_as_whole_words_with_offsets_into_the_original():
    from tasks.text import tokenize
    toks = tokenize(NFD)
    assert [t for t, _, _ in toks] == ["José", "Zúñiga", "met", "Björk", "in", "가", "Seoul", "."]  # was Jo, Zu, Bjo
    for token, start, end in toks:  # the offsets point into the user's own (longer) string
        assert unicodedata.normalize("NFC", NFD[start:end]) == token
    assert toks[-1][2] == len(NFD)


@pytest.mark.parametrize("text", ["\u0958\u093e\u0928\u0942\u0928 EU", "a\u0301\u0323 b", "x\u0344\u0f73 y ."])
def test_where_nfc_splits_or_reorders_a_cluster_every_token_covers_what_it_came_from(text):
    """U+0958 is two characters in NFC (a composition exclusion); U+0301 U+0323 swap places; U+0344 and U+0F73
    decompose into marks that reorder across them. A token's span is never empty and holds its characters."""
    from tasks.text import tokenize
    toks = tokenize(text)
    for token, start, end in toks:
        assert 0 <= start < end <= len(text)
        assert set(unicodedata.normalize("NFD", token)) <= set(unicodedata.normalize("NFD", text[start:end]))
    assert toks[-1][2] == len(text)


@pytest.mark.parametrize("name", TEXT_TASKS)
def test_nfd_and_nfc_text_get_the_same_answer(tiny, name):
    p = zoo.load(tiny / name)
    nfd, nfc = p.predict(NFD), p.predict(unicodedata.normalize("NFC", NFD))
    if name.startswith("ner"):
        assert [t["tag"] for t in nfd["tokens"]] == [t["tag"] for t in nfc["tokens"]]
        assert [NFD[t["start"]:t["end"]] for t in nfd["tokens"]][:2] == ["Jose\u0301", "Zu\u0301n\u0303iga"]
    else:
        assert nfd == nfc


@pytest.mark.parametrize("name", TEXT_TASKS)
def test_lone_surrogates_are_treated_like_control_characters(tiny, name):
    p = zoo.load(tiny / name)
    answers = [p.predict(t) for t in ("Seoul \ud800 is \udfff fine .", "Seoul \u0000 is \u0001 fine .", "Seoul   is   fine .")]
    if "tokens" in answers[0]:  # the words, tags and offsets (an entity's text is the caller's own characters)
        answers = [a["tokens"] for a in answers]
    assert answers[0] == answers[1] == answers[2]  # blanked, as NUL is: the same words, the same answer


def test_the_printable_fast_path_of_check_text_skips_no_control_format_or_surrogate_character():
    """check_text returns a printable str untouched (str.isprintable, in C); that is only right if no
    character Python calls printable is one the slow path would blank: checked over every code point."""
    from tasks.text import check_text
    blank = lambda ch: unicodedata.category(ch) in ("Cc", "Cf", "Cs") and ch not in "\t\n"  # noqa: E731
    for start in range(0, 0x110000, 100_000):  # under the length limit
        chunk = "".join(map(chr, range(start, min(start + 100_000, 0x110000))))
        assert check_text(chunk) == "".join(" " if blank(ch) else ch for ch in chunk)
        assert not [ch for ch in chunk if ch.isprintable() and blank(ch)]
    assert check_text("Seoul , 2026 .") == "Seoul , 2026 ."


# --- caption predictor: feature vectors and images -------------------------------------------------------

@pytest.mark.parametrize("features,error,match", [
    pytest.param(np.full(1280, np.inf), ValueError, "NaN or infinite", id="inf"),
    pytest.param(np.r_[np.zeros(1279), -np.inf], ValueError, "NaN or infinite", id="one-minus-inf"),
    pytest.param(torch.full((1280,), float("nan")), ValueError, "NaN or infinite", id="nan-tensor"),
    pytest.param(np.full(1280, 1e40), ValueError, "NaN or infinite", id="overflows-float32"),
    pytest.param(np.full(1280, 3e38), ValueError, "image features are within", id="finite-but-huge"),
    pytest.param(np.r_[np.zeros(1279), -3e38], ValueError, "image features are within", id="one-finite-huge"),
    pytest.param(np.zeros(0), ValueError, "1280 values", id="empty"),
    pytest.param(np.zeros(1_000_000), ValueError, "1280 values", id="huge"),
    pytest.param(["a"] * 1280, ValueError, "must be numbers", id="strings"),
    pytest.param(np.array([object()] * 1280), ValueError, "must be numbers", id="objects"),
    pytest.param(None, TypeError, "expected an image", id="none"),
    pytest.param({1, 2}, TypeError, "expected an image", id="set"),
    pytest.param({"pixels": [1, 2]}, TypeError, "expected a PIL image", id="dict-without-image"),
])
def test_bad_feature_vectors_are_refused_with_a_clear_error(captioner, features, error, match):
    with pytest.raises(error, match=match):
        captioner.predict(features)


def test_complex_feature_vectors_are_refused(captioner):
    with pytest.raises(ValueError):
        captioner.predict(np.full(1280, 1 + 2j))


@pytest.mark.parametrize("image,match", [
    pytest.param(b"", "not an image", id="zero-bytes"),
    pytest.param(b"\0" * (image_encoder.MAX_FILE_BYTES + 1), "limit", id="over-the-file-limit"),
])
def test_empty_or_oversized_image_bytes_are_refused(captioner, image, match):
    with pytest.raises(ValueError, match=match):
        captioner.predict(image)


def test_a_directory_given_as_an_image_path_is_refused(captioner, tmp_path):
    with pytest.raises(ValueError, match="is a folder, not an image"):
        captioner.predict(str(tmp_path))
    for empty in ("", "  "):  # not the current folder, which Path("") is
        with pytest.raises(ValueError, match="the image path is empty"):
            captioner.predict(empty)


def test_a_real_decompression_bomb_is_refused_before_decoding(captioner, tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(bomb)  # 400 million pixels in a file of a few tens of kilobytes
    with pytest.raises(ValueError, match="pixels|decompression bomb"):
        captioner.predict(str(bomb))
    with pytest.raises(ValueError, match="pixels|decompression bomb"):
        captioner.predict(bomb.read_bytes())


# --- malformed checkpoints, through the public zoo.load ---------------------------------------------------

class WritesAFile:
    """A pickle whose loading would create a file: proof that nothing unpickles it."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def _weights(d):
    # copies: load_file may map the file into memory, and rewriting a mapped file under it is a SIGBUS
    return {k: v.clone() for k, v in load_file(str(d / "model.safetensors")).items()}


BROKEN = {  # name -> (mutation of a good checkpoint folder, what zoo.load must raise)
    "zero-byte-weights": (lambda d: (d / "model.safetensors").write_bytes(b""), "not a readable safetensors"),
    "truncated-weights": (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:-40]),
                          "not a readable safetensors"),
    "header-claims-2^60-bytes": (lambda d: (d / "model.safetensors").write_bytes((2**60).to_bytes(8, "little") + b"{}"),
                                 "not a readable safetensors"),
    "pickle-with-a-payload": (lambda d: (d / "model.safetensors").write_bytes(pickle.dumps(WritesAFile(d / "PWNED"))),
                              "not a readable safetensors"),
    "torch-save-zip": (lambda d: torch.save(_weights(d), d / "model.safetensors"), "not a readable safetensors"),
    "nan-weights": (lambda d: save_file({k: v.float().fill_(float("nan")) for k, v in _weights(d).items()},
                                        str(d / "model.safetensors")), "NaN or infinite weights"),
    "weights-missing": (lambda d: (d / "model.safetensors").unlink(), "missing"),
    "tokenizer-missing": (lambda d: (d / "tokenizer.json").unlink(), r"ck/tokenizer\.json: missing"),
    "binary-config": (lambda d: (d / "config.json").write_bytes(bytes(range(256))), "not valid JSON"),
    "unknown-task": (lambda d: _edit_config(d, task="os.system"), "unknown task"),
}


def _edit_config(d, **changes):
    (d / "config.json").write_text(json.dumps({**json.loads((d / "config.json").read_text()), **changes}))


@pytest.mark.parametrize("name", BROKEN)
def test_a_malformed_checkpoint_is_a_checkpoint_error_naming_the_problem(tiny, tmp_path, name):
    mutate, match = BROKEN[name]
    folder = tmp_path / "ck"
    shutil.copytree(tiny / "sentiment-lstm", folder)
    mutate(folder)
    with pytest.raises(checkpoint.CheckpointError, match=match):
        zoo.load(folder)
    assert not (folder / "PWNED").exists()


@pytest.fixture(scope="module")
def tiny_captioner_folder(tmp_path_factory):
    from dataclasses import asdict
    model = tiny_model(vocab_size=12)
    config = {"task": "caption", "name": "caption-tiny", "arch": "lstm", "model": asdict(model.cfg), "metric": "bleu4",
              "decode": {"beam": 3, "max_len": 20, "alpha": 0.0}}  # as training records it
    return checkpoint.save(tmp_path_factory.mktemp("cap") / "caption-tiny", model, config,
                           files={"tokenizer.json": _tiny_tokenizer()})


@pytest.mark.parametrize("task", ["ner-lstm", "sentiment-lstm", "caption"])
def test_a_missing_tokenizer_is_a_checkpoint_error_naming_the_file_for_every_task(tiny, tiny_captioner_folder, tmp_path,
                                                                                  task):
    folder = tmp_path / "ck"
    shutil.copytree(tiny_captioner_folder if task == "caption" else tiny / task, folder)
    zoo.load(folder)  # loads as it is
    (folder / "tokenizer.json").unlink()
    with pytest.raises(checkpoint.CheckpointError, match=r"ck/tokenizer\.json: missing"):
        zoo.load(folder)


@pytest.mark.parametrize("mutate", [lambda d: (d / "tokenizer.json").write_text("{not json"),
                                    lambda d: _edit_config(d, model="lstm")], ids=["bad-tokenizer", "model-not-a-dict"])
def test_a_checkpoint_with_a_malformed_tokenizer_or_model_config_is_a_checkpoint_error(tiny, tmp_path, mutate):
    folder = tmp_path / "ck"
    shutil.copytree(tiny / "sentiment-lstm", folder)
    mutate(folder)
    with pytest.raises(checkpoint.CheckpointError):
        zoo.load(folder)


# --- malformed training states (--resume) ---------------------------------------------------------------------

def _training():
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(model.parameters())
    return model, opt, torch.optim.lr_scheduler.ReduceLROnPlateau(opt)


def _good_state(folder):
    resume.save(folder, *resume.capture(*_training(), None, {"step": 3}, {"lr": 1.0}))
    return json.loads((folder / resume.RECORD).read_text())


def _point_at(folder, record, name, data: bytes):
    import hashlib
    (folder / name).write_bytes(data)
    record["tensors"] = {"file": name, "sha256": hashlib.sha256(data).hexdigest()}
    (folder / resume.RECORD).write_text(json.dumps(record))


@pytest.mark.parametrize("mutate,match", [
    pytest.param(lambda f, r: _point_at(f, r, "state-9.safetensors", pickle.dumps(WritesAFile(f / "PWNED"))),
                 "not a readable safetensors", id="pickle-with-matching-sha256"),
    pytest.param(lambda f, r: (f / resume.RECORD).write_bytes(bytes(range(256))), "not valid JSON", id="binary-record"),
    pytest.param(lambda f, r: (f / resume.RECORD).write_text(json.dumps({**r, "tensors": {"file": "../x"}})),
                 "missing", id="record-names-a-file-outside"),
    pytest.param(lambda f, r: (f / resume.RECORD).write_text("[]"), "not a seqzoo-train-state/1 record", id="wrong-shape"),
])
def test_a_malformed_training_state_is_a_state_error(tmp_path, mutate, match):
    folder = tmp_path / "state"
    record = _good_state(folder)
    mutate(folder, record)
    with pytest.raises(resume.StateError, match=match):
        resume.load(folder)
    assert not (folder / "PWNED").exists()


@pytest.mark.parametrize("drop", ["rng", "param_groups", "scheduler"])
def test_a_training_state_record_with_parts_missing_is_a_state_error(tmp_path, drop):
    record = _good_state(tmp_path)
    (tmp_path / resume.RECORD).write_text(json.dumps({k: v for k, v in record.items() if k != drop}))
    with pytest.raises(resume.StateError, match="incomplete or malformed"):
        resume.restore(tmp_path, *_training(), {"lr": 1.0})
