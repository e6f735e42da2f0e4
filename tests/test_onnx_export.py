"""ONNX export (zoo/export.py) and onnxruntime inference (zoo/onnx_run.py): the exported network gives the
same tags and labels as the torch model, scores within 1e-4, at any batch size and length."""
import json
import random

import pytest
import torch

import zoo
from tasks import ner, sentiment
from zoo import checkpoint, export
from zoo.__main__ import main

from app_models import SENTIMENT_TEXTS
from serving_models import write_caption_model, write_models

ort = pytest.importorskip("onnxruntime")

WORDS = "Peter visited Seoul EU rejects German call to boycott British lamb Korea , . ? a gorgeous witty movie xyzzy".split()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = write_models(tmp_path_factory.mktemp("models"), tasks=("ner", "sentiment"))
    vectorize = sentiment.Vectorizer.fit(SENTIMENT_TEXTS)  # the BiLSTM with max-over-time pooling too
    config = sentiment.make_config("bilstm", vectorize, dict(word_dim=8, dropout=0.0), name="sentiment-bilstm-max",
                                   hidden_size=6, pool="max")
    checkpoint.save(root / "sentiment-bilstm-max", sentiment.build_model(config), config,
                    files={"tokenizer.json": vectorize.tokenizer.to_str()})
    write_caption_model(root / "caption-lstm")
    return root


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    out = tmp_path_factory.mktemp("exported")
    return {name: export.to_onnx(zoo.load(models / name), out / name)
            for name in ("ner-rnn", "ner-lstm", "ner-bilstm", "sentiment-rnn", "sentiment-lstm", "sentiment-bilstm-max")}


def _sample(n=40, seed=0):
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 40))) for _ in range(n)]


@pytest.mark.parametrize("name", ["ner-rnn", "ner-lstm", "ner-bilstm", "sentiment-rnn", "sentiment-lstm", "sentiment-bilstm-max"])
def test_onnx_export_gives_the_same_tags_and_labels_and_scores_within_1e_4(models, exported, name):
    torch_p, onnx_p = zoo.load(models / name), zoo.load(exported[name])
    assert torch_p.runtime == "torch" and onnx_p.runtime == "onnxruntime"
    texts = _sample()
    task = ner if name.startswith("ner") else sentiment
    worst = 0.0
    for batch_size in (1, 7, 64):  # other batch sizes and lengths than the export's example
        examples = [torch_p.encode(t)[1] for t in texts[:batch_size]]
        for i in range(0, len(examples), batch_size):
            batch = {k: v for k, v in _join(task, torch_p, texts[i:i + batch_size]).items()}
            with torch.no_grad():
                want, got = torch_p.model(batch), onnx_p.model(batch)
            mask = batch["words"] != 0
            worst = max(worst, float((want - got).abs()[mask if want.dim() == 3 else slice(None)].max()))
        assert onnx_p.predict_batch(texts, batch_size=batch_size, errors="record") == pytest.approx(
            torch_p.predict_batch(texts, batch_size=batch_size, errors="record"), abs=1e-4) if name.startswith("sent") \
            else [[t["tag"] for t in r["tokens"]] for r in onnx_p.predict_batch(texts, batch_size=batch_size)] == \
            [[t["tag"] for t in r["tokens"]] for r in torch_p.predict_batch(texts, batch_size=batch_size)]
    assert worst < 1e-4


def _join(task, p, texts):
    if task is ner:
        return ner.collate([p.featurize(p.words(t)) for t in texts])
    return sentiment.collate([{"words": p.vectorize.word_ids(p.words(t))} for t in texts])


def test_the_export_folder_is_a_checkpoint_with_the_network_beside_it(exported):
    folder = exported["ner-bilstm"]
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.onnx", "model.safetensors", "tokenizer.json"]
    record = json.loads((folder / "config.json").read_text())["onnx"]
    assert record["inputs"] == ["words", "casing", "chars", "lengths"] and record["precision"] == "fp32"
    sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    shapes = {i.name: i.shape for i in sess.get_inputs()}
    assert shapes["words"] == ["batch", "length"] and shapes["chars"][:2] == ["batch", "length"]
    assert sess.get_outputs()[0].shape[:2] == ["batch", "length"]  # not pinned to the example's length
    kinds = {n.op_type for n in __import__("onnx").load(str(folder / "model.onnx")).graph.node}
    assert "LSTM" in kinds and "MatMul" in kinds  # one LSTM node per direction, not an unrolled loop


def test_the_export_command_prints_one_json_line_and_refuses_what_it_cannot_do(models, tmp_path, capsys):
    assert main(["export", str(models / "sentiment-rnn"), "--format", "onnx", "--out", str(tmp_path / "s")]) == 0
    line = json.loads(capsys.readouterr().out)  # stdout is that one line: the exporter's chatter is kept off it
    assert line["files"] == ["config.json", "model.onnx", "model.safetensors", "tokenizer.json"]
    assert zoo.load(tmp_path / "s").predict("a gorgeous movie")["positive"] == pytest.approx(
        zoo.load(models / "sentiment-rnn").predict("a gorgeous movie")["positive"], abs=1e-5)
    for argv, message in ((["sentiment-rnn", "--out", str(tmp_path / "s")], "not empty"),
                          (["caption-lstm", "--out", str(tmp_path / "c")], "covers ner, sentiment")):
        assert main(["export", str(models / argv[0]), *argv[1:]]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_an_exported_folder_with_a_damaged_network_is_a_checkpoint_error(exported, tmp_path):
    import shutil

    bad = shutil.copytree(exported["sentiment-lstm"], tmp_path / "bad")
    (bad / "model.onnx").write_bytes(b"\x08garbage")
    with pytest.raises(zoo.CheckpointError, match="onnxruntime cannot load it"):
        zoo.load(bad)
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**config, "onnx": {"file": "../model.onnx"}}))
    with pytest.raises(zoo.CheckpointError, match="names no ONNX file"):
        zoo.load(bad)
