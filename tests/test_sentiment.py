"""Sentiment (many-to-one): vocabulary, data pipeline, training, the bundled checkpoints and odd input.

The data tests write their own small parquet samples into tmp_path; the real SST-2 copy in
../shared/datasets is only read, and those tests are skipped where it is absent.
"""
from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import torch
from tokenizers import Tokenizer

import zoo
from tasks import sentiment
from zoo import data, training
from zoo.embedding import UNK_ID

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[1].parent / "shared/datasets"
needs_sst2 = pytest.mark.skipif(not (DATA / "sst2").exists(), reason="no local SST-2 copy in ../shared/datasets")


def needs(*names):
    """The bundled models a test reads: they ship in git, so a missing one fails here rather than skipping."""
    missing = set(names) - set(zoo.list_models())
    assert not missing, f"bundled models missing: {', '.join(sorted(missing))}"
    return lambda test: test

GOOD, BAD = ["good", "great", "wonderful", "fun", "moving"], ["bad", "awful", "boring", "dull", "tedious"]
FILLER = ["the", "movie", "was", "a", "plot", "film", "really", "and", "story", "it", ",", "."]


def make_texts(n: int, seed: int) -> tuple[list[str], list[int]]:
    """Short lower-cased texts whose label is given by one sentiment word among filler words."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        y = rng.randint(0, 1)
        ws = rng.choices(FILLER, k=rng.randint(2, 8))
        ws.insert(rng.randint(0, len(ws)), rng.choice(GOOD if y else BAD))
        texts.append(" ".join(ws))
        labels.append(y)
    return texts, labels


def write_split(folder: Path, name: str, texts, labels, column="sentence", names=("negative", "positive")):
    feats = datasets.Features({column: datasets.Value("string"), "label": datasets.ClassLabel(names=list(names))})
    folder.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict({column: texts, "label": labels}, features=feats).to_parquet(str(folder / f"{name}.parquet"))


@pytest.fixture
def sst_sample(tmp_path) -> Path:
    """SST-2 shaped: sentence/label, three splits."""
    for i, (name, n) in enumerate((("train", 400), ("validation", 80), ("test", 80))):
        write_split(tmp_path / "sst", name, *make_texts(n, seed=i))
    return tmp_path / "sst"


@pytest.fixture
def imdb_sample(tmp_path) -> Path:
    """IMDB shaped: text/label named neg/pos, <br /> tags, train and test only; test labels hidden (-1)."""
    texts, labels = make_texts(300, seed=5)
    texts = [t.replace(" , ", " <br /><br /> ") for t in texts]
    write_split(tmp_path / "imdb", "train", texts, labels, column="text", names=("neg", "pos"))
    write_split(tmp_path / "imdb", "test", *make_texts(40, seed=6)[:1], [-1] * 40, column="text", names=("neg", "pos"))
    return tmp_path / "imdb"


def train_script():
    spec = importlib.util.spec_from_file_location("train_sentiment", ROOT / "train/sentiment.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def one_thread():
    """A batch of one text is a chain of small steps: extra intra-op threads only wait on each other, and on
    a busy machine they made a 100,000-character text 30 times slower here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = ["--word-dim", "16", "--hidden-size", "16", "--batch-size", "16", "--threads", "1", "--lr", "1e-2"]


# --- vocabulary and text --------------------------------------------------------------------------------

def test_tokenizer_round_trips_through_json_and_maps_unknown_words_to_unk():
    vec = sentiment.Vectorizer.fit([sentiment.words(t) for t in ["a good film .", "a bad film , really bad"]])
    again = sentiment.Vectorizer(Tokenizer.from_str(vec.tokenizer.to_str()))
    text = "A GOOD film, really!"
    ids = vec.word_ids(sentiment.words(text))
    assert ids == again.word_ids(sentiment.words(text)) == again.tokenizer.encode(" ".join(sentiment.words(text))).ids
    assert ids[:3] == vec.word_ids(["a", "good", "film"]) and UNK_ID not in ids[:3]  # lower-cased by the tokenizer
    assert vec.word_ids(sentiment.words("zyzzyva 정말 😀")) == [UNK_ID] * 3
    assert vec.tokenizer.token_to_id("<pad>") == 0 and vec.tokenizer.token_to_id("<unk>") == UNK_ID


def test_words_split_the_penn_treebank_way_and_drop_html_breaks():
    assert sentiment.words("Don't miss it!<br /><br />Great.") == ["Do", "n't", "miss", "it", "!", "Great", "."]
    assert sentiment.words("it 's not bad", max_len=2) == ["it", "'s"]  # SST-2 text splits the same way again


def test_a_texts_ids_found_chunk_by_chunk_are_its_words_ids_on_random_tricky_texts():
    """Vectorizer.ids remembers each whitespace chunk's ids: on texts of the characters where the token pattern
    splits (and HTML breaks, control characters, NFD accents), twice over so the second pass reads the
    cache, it must give word_ids(words(text, max_len)), with and without a max_len."""
    import random
    vocab = ["a", "good", "film", ".", "do", "n't", "'s", "u.s.", "1,000", "x-y", "서울", "é", "!"]
    pieces = vocab + ["B", "'", ",", "-", "1", "3.5", "U.S.", "e\u0301", "\u212b", "\u00a0", " ", " ", "\t", "\n",
                      "<br />", "\x00", "\u200b", "🙂", "Good", "FILM."]
    rng = random.Random(0)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))) for _ in range(1500)]
    for max_len in (0, 5):
        vec = sentiment.Vectorizer.fit([vocab], max_len=max_len)
        for text in texts + texts:
            assert vec.ids(text) == vec.word_ids(sentiment.words(text, max_len)), repr(text)


def test_the_chunk_cache_stays_bounded():
    vec = sentiment.Vectorizer.fit([["a", "film"]])
    vec.CHUNKS = 50
    for i in range(200):
        assert vec.ids(f"film{i} a{i}. film {'x' * 100}") == [UNK_ID, UNK_ID, UNK_ID, vec.word_ids(["film"])[0], UNK_ID]
    assert len(vec._chunk_id) + len(vec._chunk_ids) <= 50 and not any(len(c) > 64 for c in vec._chunk_id)


# --- data pipeline ----------------------------------------------------------------------------------------

def test_sample_loads_through_zoo_data_and_encodes_with_labels(sst_sample, imdb_sample):
    ds, source = data.load(str(sst_sample))
    assert set(ds) == {"train", "validation", "test"} and source["path"] == str(sst_sample)
    vec = sentiment.Vectorizer.fit([sentiment.words(t) for t in ds["train"]["sentence"]])
    enc = sentiment.encode_split(ds["validation"], vec)
    assert [e["label"] for e in enc] == ds["validation"]["label"] and all(e["words"] for e in enc)
    batch = sentiment.collate(enc[:5])
    assert batch["words"].shape == (5, max(len(e["words"]) for e in enc[:5])) and batch["labels"].shape == (5,)

    imdb, _ = data.load(str(imdb_sample))
    assert sentiment.text_column(imdb["train"]) == "text"
    assert sentiment.gold_labels(imdb["train"]) == imdb["train"]["label"]  # neg/pos names map to 0/1
    assert sentiment.gold_labels(imdb["test"]) == [-1] * 40


def test_length_batches_cover_every_example_once_with_little_padding(sst_sample):
    ds, _ = data.load(str(sst_sample))
    vec = sentiment.Vectorizer.fit([sentiment.words(t) for t in ds["train"]["sentence"]])
    enc = sentiment.encode_split(ds["train"], vec)
    seen = []
    for idx, batch in sentiment.batches(enc, 32, shuffle=True, seed=1):
        seen += idx
        assert batch["words"].shape[1] == max(len(enc[i]["words"]) for i in idx)
    assert sorted(seen) == list(range(len(enc)))


# --- training ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch,pool", [("lstm", "final"), ("bilstm", "max")])
def test_training_smoke_run_makes_the_loss_fall(sst_sample, arch, pool):
    ds, _ = data.load(str(sst_sample))
    vec = sentiment.Vectorizer.fit([sentiment.words(t) for t in ds["train"]["sentence"]])
    train, val = sentiment.encode_split(ds["train"], vec), sentiment.encode_split(ds["validation"], vec)
    training.seed_everything(0)
    model = sentiment.build_model(sentiment.make_config(arch, vec, dict(word_dim=16, dropout=0.1), hidden_size=16,
                                                        dropout=0.1, pool=pool))
    full = sentiment.collate(train)
    before = model.eval().loss(full).item()
    tc = training.TrainConfig(epochs=3, batch_size=16, lr=1e-2, patience=3, threads=1)
    summary = training.fit(model, lambda e: (b for _, b in sentiment.batches(train, 16, True, e)),
                           lambda m: sentiment.evaluate(m, val), "accuracy", tc, log=lambda s: None)
    assert model.loss(full).item() < 0.5 * before
    assert summary["validation"]["accuracy"] > 80


def test_word_init_starts_word_vectors_small_or_standard_normal_with_a_zero_pad_row(sst_sample):
    ds, _ = data.load(str(sst_sample))
    vec = sentiment.Vectorizer.fit([sentiment.words(t) for t in ds["train"]["sentence"]])
    emb = dict(word_dim=64, dropout=0.1)
    small = sentiment.build_model(sentiment.make_config("lstm", vec, emb)).embed.words.weight
    normal = sentiment.build_model(sentiment.make_config("lstm", vec, emb, word_init="normal")).embed.words.weight
    assert small.abs().max() <= 0.05 and 0.8 < normal[1:].std() < 1.2
    assert not small[0].any() and not normal[0].any()
    with pytest.raises(ValueError, match="word_init"):
        sentiment.build_model(sentiment.make_config("lstm", vec, emb, word_init="xavier"))


def test_train_script_writes_a_checkpoint_that_zoo_load_serves(sst_sample, tmp_path, capsys):
    out = tmp_path / "ck"
    assert train_script().main(["--arch", "bilstm", "--data", str(sst_sample), "--epochs", "2", "--out", str(out), *TINY]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["task"] == "sentiment" and cfg["name"] == "sentiment-bilstm" and cfg["metric"] == "accuracy"
    assert set(cfg["pool_selection"]["validation_accuracy"]) == {"final", "max"}
    assert cfg["model"]["pool"] == cfg["pool_selection"]["chosen"]
    assert set(line["metrics"]) == {"validation", "test"} and (out / "tokenizer.json").is_file()
    assert line["scored_as"] == "float16"  # the weights its metrics score: as saved, not the epoch lines' float32
    p = zoo.load(out)
    assert set(p.predict("a wonderful film")) == {"label", "positive", "negative"}
    assert p.evaluate(data.load(str(sst_sample))[0]["test"]) == cfg["metrics"]["test"]


def test_imdb_shaped_data_gets_a_seeded_validation_split_and_hidden_test_labels_give_no_test_metrics(imdb_sample, tmp_path):
    out = tmp_path / "ck"
    mod = train_script()
    assert mod.main(["--arch", "rnn", "--data", str(imdb_sample), "--epochs", "1", "--max-len", "5",
                     "--val-size", "60", "--out", str(out), *TINY]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert "seed 0" in cfg["data"]["validation"] and cfg["max_len"] == 5
    assert set(cfg["metrics"]) == {"validation"} and "hidden" in cfg["note"]
    p = zoo.load(out)
    assert len(p.prob_positive_by_step("good " * 50)) == 5  # reads only --max-len words, as in training
    with pytest.raises(ValueError, match="no labels"):
        p.evaluate(data.load(str(imdb_sample))[0]["test"])


def test_train_script_reports_missing_data_in_one_line(tmp_path, capsys):
    assert train_script().main(["--data", str(tmp_path / "no-such-folder")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err


def test_unreachable_hub_is_a_loading_line_then_one_error_line_without_traceback(monkeypatch, capsys):
    import huggingface_hub.constants
    # offline mode, set where datasets and huggingface_hub read it, stands in for a Hub that cannot be reached
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert train_script().main(["--data", "nobody/no-such-dataset"]) == 2
    loading, err = capsys.readouterr().err.strip().split("\n")
    assert loading == "loading nobody/no-such-dataset from the Hugging Face Hub..."
    assert err.startswith("error: could not load 'nobody/no-such-dataset'") and "--data PATH" in err


# --- bundled checkpoints ----------------------------------------------------------------------------------

def _reproduces_recorded_test_scores(name: str, data_name: str) -> dict:
    """A bundled model's test metrics measured again equal the recorded ones (the README's and docs/results.md's),
    give or take one text, which another CPU's rounding may flip."""
    ds, _ = data.load(str(DATA / data_name))
    p = zoo.load(name)
    measured, recorded = p.evaluate(ds["test"]), p.config["metrics"]["test"]
    one_text = 100 / len(ds["test"]) + 0.005  # points, and the 2-decimal rounding
    assert set(measured) == set(recorded) and all(abs(measured[k] - recorded[k]) <= one_text for k in recorded), \
        (name, measured, recorded)
    return measured


@needs_sst2
@pytest.mark.parametrize("name", ["sentiment-rnn", "sentiment-lstm", "sentiment-bilstm"])
def test_bundled_sst2_models_reproduce_their_recorded_test_scores(name, one_thread):
    measured = _reproduces_recorded_test_scores(name, "sst2")
    if name == "sentiment-bilstm":
        assert measured["accuracy"] >= 84.0  # its target (docs/results.md)


@pytest.mark.skipif(not (DATA / "imdb").is_dir(), reason="../shared/datasets/imdb is absent")
@pytest.mark.parametrize("name", ["imdb-rnn", "imdb-lstm", "imdb-bilstm"])
def test_bundled_imdb_models_reproduce_their_recorded_test_scores(name, one_thread):
    _reproduces_recorded_test_scores(name, "imdb")


@needs("sentiment-lstm", "sentiment-bilstm")
@pytest.mark.parametrize("name", ["sentiment-lstm", "sentiment-bilstm"])
def test_odd_input_gives_a_result_or_a_clear_error(name, one_thread):
    p = zoo.load(name)
    for text in ["...", "!?", "😀👍🎬", "정말 재미있는 영화였어요", "great " * 16_000 + "x" * 4_000]:
        r = p.predict(text)
        assert set(r) == {"label", "positive", "negative"} and 0 <= r["positive"] <= 1
        assert abs(r["positive"] + r["negative"] - 1) < 1e-6
    for text in ["", "   \n\t "]:
        with pytest.raises(ValueError, match="no words"):
            p.predict(text)
        assert p.prob_positive_by_step(text) == []
    with pytest.raises(ValueError, match="limit"):
        p.predict("a" * 300_000)
    for bad in [None, 42, b"good", ["good"]]:
        with pytest.raises(TypeError):
            p.predict(bad)


@needs("sentiment-lstm", "sentiment-bilstm")
def test_prob_positive_by_step_gives_one_value_per_word_and_ends_at_predict_for_the_lstm():
    p = zoo.load("sentiment-lstm")
    text = "it is not a bad movie , it 's a wonderful one"
    steps = p.prob_positive_by_step(text)
    assert len(steps) == len(sentiment.words(text)) and all(0 <= s <= 1 for s in steps)
    assert steps[-1] == pytest.approx(p.predict(text)["positive"], abs=1e-5)
    assert p.predict("a gorgeous , witty , seductive movie .")["positive"] > 0.5
    assert p.predict("a dull , tedious mess .")["positive"] < 0.5
    assert len(zoo.load("sentiment-bilstm").prob_positive_by_step(text)) == len(steps)  # forward direction only


@needs("sentiment-lstm")
@needs_sst2
def test_cli_evaluate_prints_one_json_line_with_accuracy_and_macro_f1():
    r = subprocess.run([sys.executable, "-m", "zoo", "evaluate", "sentiment-lstm", "--data", str(DATA / "sst2"),
                        "--split", "test"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})  # see one_thread
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert out["model"] == "sentiment-lstm" and out["examples"] == 1821
    assert set(out["metrics"]) == {"accuracy", "macro_f1"} and out["metrics"]["accuracy"] >= 83.0


def test_scripts_after_training_score_the_validation_texts_the_checkpoints_run_held_out():
    """what_if.py and memory_profile.py held out 2,500 texts whatever the run had held out (--val-size 200 left
    2,300 of them training texts, scored as validation)."""
    texts, labels = make_texts(60, seed=3)
    ds = datasets.DatasetDict({"train": datasets.Dataset.from_dict(
        {"text": texts, "label": labels},
        features=datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}))})
    config = {"train": {"options": {"val_size": 10}}}
    val = sentiment.validation_of(ds, config)
    held = datasets.DatasetDict({"train": ds["train"]})
    sentiment.held_out_validation(held, 10)  # what train/sentiment.py --val-size 10 held out
    assert val["text"] == held["validation"]["text"] and len(val) == 10 and set(ds) == {"train"}  # ds unchanged
    with pytest.raises(Exception, match="2,500"):  # a checkpoint that records none: training's default
        sentiment.validation_of(ds, {})
    with_val = datasets.DatasetDict({**ds, "validation": ds["train"].select(range(5))})
    assert len(sentiment.validation_of(with_val, config)) == 5  # the data's own split, where it has one
