"""ONNX export (zoo/export.py) and onnxruntime inference (zoo/onnx_run.py): the exported networks give the
same tags, labels and captions as the torch model, scores within 1e-4, at any batch size and length."""
import json
import random
import warnings

import pytest
import torch

import zoo
from tasks import ner, sentiment
from zoo import checkpoint, export
from zoo.__main__ import main
from zoo.registry import BUNDLED

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
    for batch_size in (1, 7, 64):  # other batch sizes and lengths than the export's example (2 rows)
        for i in range(0, len(texts), batch_size):
            batch = _join(torch_p, texts[i:i + batch_size])
            with torch.no_grad():
                want, got = torch_p.model(batch), onnx_p.model(batch)
            real = batch["words"] != 0 if want.dim() == 3 else slice(None)  # NER: the words, not the padding
            assert (want - got)[real].abs().max() < 1e-4
        want, got = torch_p.predict_batch(texts, batch_size), onnx_p.predict_batch(texts, batch_size)
        if name.startswith("ner"):
            assert [[t["tag"] for t in r["tokens"]] for r in got] == [[t["tag"] for t in r["tokens"]] for r in want]
        else:
            assert [r["label"] for r in got] == [r["label"] for r in want]
            assert [r["positive"] for r in got] == pytest.approx([r["positive"] for r in want], abs=1e-4)


@pytest.mark.parametrize("name", ["ner-rnn", "ner-bilstm"])
@pytest.mark.parametrize("crf", [True, False])
def test_an_exported_tagger_predicts_one_sentence_as_its_batches_do_and_as_torch_does(models, exported, name, crf):
    """predict on an exported tagger keeps the sentence in NumPy (tasks.ner_data.arrays, OrtForward.arrays,
    CRF.decode_one): the same tags and scores as predict_batch of one, and the torch model's tags."""
    torch_p, onnx_p = zoo.load(models / name), zoo.load(exported[name])
    if not crf:  # each word's best tag
        torch_p.model.crf = onnx_p.model.crf = None
    for text in _sample(20, seed=1) + [WORDS[:3]]:
        got = onnx_p.predict(text, scores=True)
        batched = onnx_p.predict_batch([text], batch_size=1, scores=True)[0]
        assert [t["tag"] for t in got["tokens"]] == [t["tag"] for t in batched["tokens"]] \
            == [t["tag"] for t in torch_p.predict(text)["tokens"]]
        assert got["entities"] == batched["entities"]  # spans and their scores
        for g, b in zip(got["tokens"], batched["tokens"]):
            assert list(g["scores"].values()) == pytest.approx(list(b["scores"].values()), abs=1e-6)
        assert onnx_p.predict(text) == {k: [{f: v for f, v in x.items() if f not in ("scores", "score")} for x in got[k]]
                                        for k in got}


def _join(p, texts) -> dict:
    """The batch the predictor's own pass would make from texts."""
    if p.task == "ner":
        return ner.collate([p.featurize(p.words(t)) for t in texts])
    return sentiment.collate([{"words": p.vectorize.word_ids(p.words(t))} for t in texts])


def test_the_export_folder_is_a_checkpoint_with_the_network_beside_it(exported):
    folder = exported["ner-bilstm"]
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.onnx", "model.safetensors", "tokenizer.json"]
    record = json.loads((folder / "config.json").read_text())["onnx"]
    assert record["graphs"] == {"model": "model.onnx"} and record["precision"] == "fp32"
    sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    shapes = {i.name: i.shape for i in sess.get_inputs()}
    assert list(shapes) == ["words", "casing", "chars", "lengths"]
    assert shapes["words"] == ["batch", "length"] and shapes["chars"][:2] == ["batch", "length"]
    assert sess.get_outputs()[0].shape[:2] == ["batch", "length"]  # not pinned to the example's length
    kinds = [n.op_type for n in __import__("onnx").load(str(folder / "model.onnx")).graph.node]
    assert kinds.count("LSTM") == 1  # one bidirectional node, not an unrolled loop
    assert "Gather" not in kinds[kinds.index("LSTM"):]  # its backward direction needs no reversal around it


@pytest.mark.parametrize("arch", ["rnn", "lstm", "bilstm"])
def test_a_caption_export_gives_the_same_captions_with_beam_search_around_its_graphs(tmp_path, arch):
    import numpy as np

    src = write_caption_model(tmp_path / arch, arch)
    out = export.to_onnx(zoo.load(src), tmp_path / "onnx")
    directions = 2 if arch == "bilstm" else 1
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".onnx") == sorted(
        f"{g}_{d}.onnx" for g in ("forward", "start", "step") for d in range(directions))
    torch_p, onnx_p = zoo.load(src), zoo.load(out)
    feats = list(np.random.default_rng(1).normal(0, 1, (9, 1280)).astype(np.float32))
    for beam in (1, 3):
        want, got = torch_p.predict_batch(feats, beam=beam), onnx_p.predict_batch(feats, beam=beam)
        assert [[c["caption"] for c in x] for x in got] == [[c["caption"] for c in x] for x in want]
        # predict rounds scores to 4 places, so two scores 1e-5 apart can print 1e-4 apart
        assert [c["score"] for x in got for c in x] == pytest.approx([c["score"] for x in want for c in x], abs=2e-4)
    f, tokens, bos = torch.as_tensor(np.stack(feats[:4])), torch.tensor([3, 4, 5, 6]), torch_p.model.cfg.bos_id
    ids = torch.tensor([[bos, 3, 4, 5, 6], [bos, 7, 0, 0, 0]] * 2)
    with torch.no_grad():
        for d in range(directions):  # the graphs themselves, at a batch size and length other than the export's
            state = torch_p.model.start(d, f)
            assert (torch_p.model.step(d, tokens, state)[0] - onnx_p.model.step(d, tokens, state)[0]).abs().max() < 1e-4
            assert (torch_p.model(d, f, ids) - onnx_p.model(d, f, ids)).abs().max() < 1e-4


def test_the_export_command_prints_one_json_line_and_refuses_what_it_cannot_do(models, tmp_path, capsys):
    assert main(["export", str(models / "sentiment-rnn"), "--format", "onnx", "--out", str(tmp_path / "s")]) == 0
    line = json.loads(capsys.readouterr().out)  # stdout is that one line: the exporter's chatter is kept off it
    assert line["files"] == ["config.json", "model.onnx", "model.safetensors", "tokenizer.json"]
    assert zoo.load(tmp_path / "s").predict("a gorgeous movie")["positive"] == pytest.approx(
        zoo.load(models / "sentiment-rnn").predict("a gorgeous movie")["positive"], abs=1e-5)
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "empty")  # refused before any exporting, not after it
    (tmp_path / "notes.txt").write_text("kept")
    for argv, message in ((["sentiment-rnn", "--out", str(tmp_path / "s")], "is a folder with files in it"),
                          (["sentiment-rnn", "--out", str(tmp_path / "link")], "is a link"),
                          (["sentiment-rnn", "--out", str(tmp_path / "notes.txt")],
                           "notes.txt exists and is a file; an export writes a new folder: choose another --out"),
                          (["sentiment-rnn", "--out", str(tmp_path / "b"), "--precision", "bf16"], "invalid choice"),
                          ([str(tmp_path / "s"), "--out", str(tmp_path / "again")], f"{tmp_path / 's'} is already an ONNX export"),
                          (["sentiment-rnn", "--out", str(BUNDLED / "new-export")], "inside the bundled models' folder")):
        rc = _exit_code(lambda: main(["export", str(models / argv[0]) if "/" not in argv[0] else argv[0], *argv[1:]]))
        err = capsys.readouterr().err
        assert rc == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "again").exists() and not (BUNDLED / "new-export").exists()
    assert (tmp_path / "notes.txt").read_text() == "kept"
    with warnings.catch_warnings():  # bf16 on a CPU without AMX warns that it is slow; not what is tested here
        warnings.simplefilter("ignore")
        bf16 = zoo.load(models / "sentiment-rnn", precision="bf16")
    with pytest.raises(ValueError, match=r"is loaded in bf16; export it loaded as it is \(fp32\): an export is fp32 or int8"):
        export.to_onnx(bf16, tmp_path / "bf16")
    assert not (tmp_path / "bf16").exists()


def _exit_code(fn) -> int:
    try:
        return fn()
    except SystemExit as e:  # argparse's own usage errors
        return e.code


def test_an_exported_folder_with_a_damaged_network_is_a_checkpoint_error(exported, tmp_path):
    import shutil

    bad = shutil.copytree(exported["sentiment-lstm"], tmp_path / "bad")
    (bad / "model.onnx").write_bytes(b"\x08garbage")
    with pytest.raises(zoo.CheckpointError, match="onnxruntime cannot load it"):
        zoo.load(bad)
    config = json.loads((bad / "config.json").read_text())
    for record, message in (({"graphs": {"model": "../model.onnx"}}, "names no ONNX file"),
                            ({"file": "model.onnx"}, "names no graphs")):
        (bad / "config.json").write_text(json.dumps({**config, "onnx": record}))
        with pytest.raises(zoo.CheckpointError, match=message):
            zoo.load(bad)


def test_an_exported_folder_whose_graphs_do_not_fit_its_task_is_refused_at_load(exported, models, tmp_path):
    """A record missing the task's graph, another model's graph of the same task (its digest), a graph swapped
    in from another task (other inputs), an unknown precision: each a CheckpointError at load, not an error on every prediction."""
    import shutil

    bad = shutil.copytree(exported["sentiment-lstm"], tmp_path / "bad")
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**config, "onnx": {**config["onnx"], "graphs": {"other": "model.onnx"}}}))
    with pytest.raises(zoo.CheckpointError, match="has no model graph"):
        zoo.load(bad)
    (bad / "config.json").write_text(json.dumps(config))
    shutil.copyfile(exported["sentiment-rnn"] / "model.onnx", bad / "model.onnx")  # same task, same inputs
    with pytest.raises(zoo.CheckpointError, match="model.onnx: not the model graph this folder was exported with"):
        zoo.load(bad)  # it loaded, and answered with the other network's numbers, before graphs had digests
    undigested = {**config, "onnx": {k: v for k, v in config["onnx"].items() if k != "sha256"}}
    (bad / "config.json").write_text(json.dumps(undigested))  # an export from before digests: inputs checked
    shutil.copyfile(exported["ner-lstm"] / "model.onnx", bad / "model.onnx")  # a tagger's network: other inputs
    with pytest.raises(zoo.CheckpointError, match="model.onnx: takes .*casing"):
        zoo.load(bad)
    (bad / "config.json").write_text(json.dumps({**config, "onnx": {**config["onnx"], "sha256": "abc"}}))
    with pytest.raises(zoo.CheckpointError, match="sha256 is not a table"):
        zoo.load(bad)
    shutil.copyfile(exported["sentiment-lstm"] / "model.onnx", bad / "model.onnx")
    (bad / "config.json").write_text(json.dumps({**config, "onnx": {**config["onnx"], "precision": "int4"}}))
    with pytest.raises(zoo.CheckpointError, match="precision is fp32 or int8"):
        zoo.load(bad)
    (bad / "config.json").write_text(json.dumps(config))
    assert zoo.load(bad).predict("a fine film")  # put back, it loads


def test_without_the_onnx_packages_export_and_int8_say_how_to_install_them(models, monkeypatch, tmp_path):
    import importlib.util
    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("onnx", "onnxscript") else find(name, *a))
    with pytest.raises(ImportError, match=r"onnx, onnxscript are not installed; pip install -e \"\.\[onnx\]\""):
        export.to_onnx(zoo.load(models / "sentiment-rnn"), tmp_path / "x")
    with pytest.raises(ImportError, match="onnx is not installed"):
        from zoo import onnx_run
        onnx_run.quantize_int8(tmp_path / "in.onnx", tmp_path / "out.onnx")
