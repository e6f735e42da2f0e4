"""The caption task: image encoder and its input checks, decoding, data pipeline, training, bundled models."""
import io
import json
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from tasks import caption, caption_decode, image_encoder
from tasks.caption_metrics import ptb_tokenize, score
from zoo import data
from conftest import SHARED_DATA, needs_shared_data

FLICKR = SHARED_DATA / "flickr8k"
SCENES = [("a black dog runs through the grass", "a dog is running on green grass", "the black dog plays in a field"),
          ("a man rides a bike down the street", "a man on a bicycle in the city", "a cyclist rides on a road"),
          ("two children play in the water", "kids splash at the beach", "two young girls swim in the pool")]


@pytest.fixture(scope="module")
def flickr_sample(tmp_path_factory):
    """Parquet splits with flickr8k's columns: random features, one mean per scene, a few captions each."""
    from datasets import Dataset, Features, Image as ImageFeature, Sequence, Value

    folder = tmp_path_factory.mktemp("flickr_sample")
    rng = np.random.default_rng(0)
    means = rng.normal(0, 1, (len(SCENES), 1280))
    features = Features({"image_id": Value("string"), **{c: Value("string") for c in caption.CAPTION_COLUMNS},
                         "efficientnet_lite0": Sequence(Value("float16"), length=1280), "image": ImageFeature()})
    for split, n in (("train", 60), ("validation", 12), ("test", 12)):
        scene = [i % len(SCENES) for i in range(n)]
        rows = {"image_id": [f"{split}{i}.jpg" for i in range(n)],
                **{c: [SCENES[s][j % 3] + (" ." if j > 2 else "") for s in scene] for j, c in enumerate(caption.CAPTION_COLUMNS)},
                "efficientnet_lite0": [(means[s] + 0.3 * rng.normal(0, 1, 1280)).astype(np.float16) for s in scene],
                "image": [None] * n}
        Dataset.from_dict(rows, features=features).to_parquet(folder / f"{split}.parquet")
    return folder


def tiny_model(arch="lstm", vocab_size=12, seed=0):
    torch.manual_seed(seed)
    cfg = caption.CaptionConfig(arch=arch, vocab_size=vocab_size, bos_id=vocab_size - 2, eos_id=vocab_size - 1,
                                feature_dim=1280, embed_dim=8, hidden_size=16, dropout=0.0)
    return caption.CaptionModel(cfg).eval()


def test_ptb_tokenize_lowercases_and_drops_punctuation_like_coco_eval():
    assert ptb_tokenize('A dog\'s toy, isn\'t it? (Red) - "OK" ...') == ["a", "dog", "'s", "toy", "is", "n't", "it",
                                                                          "red", "ok"]
    m = score([["A dog runs .", "a dog is running"]], ["a dog runs"])
    assert m["bleu1"] == pytest.approx(100.0) and set(m) == {"bleu1", "bleu2", "bleu3", "bleu4", "cider", "rouge_l"}


@pytest.mark.parametrize("arch", ["rnn", "lstm"])
def test_beam_search_with_beam_one_equals_greedy(arch):
    model = tiny_model(arch, vocab_size=30)
    feats = torch.randn(5, 1280)
    g = caption_decode.greedy(model, 0, feats, max_len=12)
    b = caption_decode.beam_search(model, 0, feats, beam=1, max_len=12)
    assert [h[0][0] for h in g] == [h[0][0] for h in b]  # the same words
    assert [h[0][2] for h in g] == [h[0][2] for h in b]  # the same length
    assert [h[0][1] for h in g] == pytest.approx([h[0][1] for h in b], abs=1e-5)  # the same log-prob


def test_length_normalisation_only_reranks_the_same_candidates():
    model = tiny_model("lstm", vocab_size=30)
    feats = torch.randn(4, 1280)
    cands = caption_decode.candidates(model, feats, beam=4, max_len=10)
    for alpha in (0.0, 0.5, 1.0):
        ranked = caption_decode.generate(model, feats, beam=4, max_len=10, alpha=alpha)
        for hyps, ranks in zip(cands, ranked):
            assert sorted(map(tuple, (h[0] for h in hyps))) == sorted(map(tuple, (r[0] for r in ranks)))
            assert [s for _, s in ranks] == sorted((lp / n ** alpha for _, lp, n in hyps), reverse=True)


class ScriptedModel:
    """A decoder stub whose next word is fixed: word 3, 4, 5, ... and <eos> after `eos_after` words."""

    def __init__(self, eos_after):
        self.cfg = caption.CaptionConfig(arch="lstm", vocab_size=20, bos_id=18, eos_id=19)
        self.banned, self.eos_after, self.decoders = [0, 1, 18], eos_after, [None]

    def eval(self):
        return self

    def start(self, d, features):
        return torch.zeros(1, features.size(0), 1)  # the state counts the steps taken

    def step(self, d, tokens, state):
        t = int(state[0, 0, 0])
        logp = torch.full((tokens.size(0), 20), -10.0)
        logp[:, 19 if t == self.eos_after else 3 + t % 10] = -0.1
        return logp, state + 1


@pytest.mark.parametrize("beam", [1, 3])
def test_decoding_stops_at_eos_and_at_max_length(beam):
    feats = torch.zeros(2, 1280)
    stops = caption_decode.generate(ScriptedModel(eos_after=4), feats, beam=beam, max_len=10)
    assert stops[0][0][0] == [3, 4, 5, 6]  # four words, then <eos> (not part of the caption)
    capped = caption_decode.generate(ScriptedModel(eos_after=99), feats, beam=beam, max_len=7)
    assert len(capped[1][0][0]) == 7


def test_bidirectional_generation_returns_rescored_captions_best_first():
    model = tiny_model("bilstm", vocab_size=30)
    hyps = caption_decode.generate(model, torch.randn(3, 1280), beam=3, max_len=8, alpha=1.0)
    assert len(hyps) == 3 and all(h for h in hyps)
    scores = [s for _, s in hyps[0]]
    assert scores == sorted(scores, reverse=True)

def test_bidirectional_score_is_both_decoders_log_probs_length_normalised():
    model = tiny_model("bilstm", vocab_size=30)
    feats = torch.randn(1, 1280)
    ids, s = caption_decode.generate(model, feats, beam=2, max_len=8, alpha=1.0)[0][0]
    fwd = model.sequence_logprob(0, feats, [ids])
    bwd = model.sequence_logprob(1, feats, [ids[::-1]])
    assert s == pytest.approx(float(fwd + bwd) / (2 * (len(ids) + 1)), abs=1e-5)


def test_data_pipeline_builds_vocab_from_train_with_bos_eos(flickr_sample):
    ds, _ = data.load(str(flickr_sample))
    vocab = caption.Vocab.fit([c for col in caption.CAPTION_COLUMNS for c in ds["train"][col]], min_word_freq=5)
    assert vocab.bos is not None and vocab.eos is not None and vocab.word_ids(["dog"])[0] > 1
    assert vocab.encode("A Dog runs .") == vocab.word_ids(["a", "dog", "runs"])  # lower-cased, no punctuation
    assert vocab.word_ids(["zebra"]) == [1]
    enc = caption.encode_split(ds["train"], vocab)
    assert enc["features"].shape == (60, 1280) and enc["features"].dtype == torch.float32
    assert len(enc["captions"]) == 300 and len(enc["references"][0]) == 5
    batch = caption.collate(enc["features"], enc["captions"][:2], vocab.bos, vocab.eos)
    fwd, bwd = batch["forward"][0], batch["backward"][0]
    n = int((fwd > 0).sum())
    assert fwd[0] == bwd[0] == vocab.bos and fwd[n - 1] == bwd[n - 1] == vocab.eos
    assert fwd[1:n - 1].tolist() == bwd[1:n - 1].flip(0).tolist()  # the backward decoder reads right to left


def test_training_lowers_the_loss_writes_a_loadable_checkpoint_and_redecoding_keeps_its_weights(flickr_sample, tmp_path,
                                                                                               capsys, monkeypatch):
    from train.caption import main  # noqa: E402

    ds, _ = data.load(str(flickr_sample))
    vocab = caption.Vocab.fit([c for col in caption.CAPTION_COLUMNS for c in ds["train"][col]], min_word_freq=1)
    enc = caption.encode_split(ds["train"], vocab)
    model = caption.build_model(caption.make_config("bilstm", vocab, embed_dim=16, hidden_size=32, dropout=0.0))
    batch = caption.collate(enc["features"], enc["captions"][:32], vocab.bos, vocab.eos)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model.loss(batch).item()
    for _ in range(30):
        opt.zero_grad()
        model.loss(batch).backward()
        opt.step()
    assert model.loss(batch).item() < 0.5 * first

    out = tmp_path / "caption-rnn"
    chosen_on = []  # the weights the decoding is chosen with: those the checkpoint saves (float16), as its metrics'
    real_settings = caption.decode_settings
    monkeypatch.setattr(caption, "decode_settings", lambda m, *a: chosen_on.append(
        all(torch.equal(v, v.half().float()) for v in m.state_dict().values() if v.is_floating_point()))
        or real_settings(m, *a))
    assert main(["--arch", "rnn", "--data", str(flickr_sample), "--out", str(out), "--epochs", "1", "--hidden-size", "32",
                 "--embed-dim", "16", "--min-word-freq", "1", "--beams", "1,2", "--alphas", "0,1", "--threads", "1"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # the run's line: scores, not example captions
    assert "bleu4" in line["metrics"]["test"] and "examples" not in line["metrics"]["test"]
    p = zoo.load(out)
    chosen = p.config["decode"]  # the decoding settings come from validation, every pair tried is recorded
    assert set(chosen["validation_bleu4"]) == {"beam 1, alpha 0.0", "beam 1, alpha 1.0", "beam 2, alpha 0.0", "beam 2, alpha 1.0"}
    assert chosen["validation_bleu4"][f"beam {chosen['beam']}, alpha {chosen['alpha']}"] == max(chosen["validation_bleu4"].values())
    assert p.config["metrics"]["validation"]["beam"] == chosen["beam"] and chosen_on == [True]
    assert chosen["validation_bleu4"][f"beam {chosen['beam']}, alpha {chosen['alpha']}"] == p.config["metrics"]["validation"]["bleu4"]
    assert p.config["task"] == "caption" and p.config["name"] == "caption-rnn" and p.config["metric"] == "bleu4"
    assert {"bleu1", "bleu4", "cider", "rouge_l"} <= set(p.config["metrics"]["test"])
    res = p.predict(np.random.default_rng(1).normal(0, 1, 1280), beam=2)
    assert res and isinstance(res[0]["caption"], str) and isinstance(res[0]["score"], float)

    # choosing the decoding again (train/caption_decoding.py) rewrites config and card, never the weights
    from train.caption_decoding import main as redecode
    weights = (out / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert redecode([str(out), "--data", str(flickr_sample), "--beams", "3", "--alphas", "0.5"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # one JSON line, like every script
    assert line["decode"] == {"beam": 3, "alpha": 0.5} and line["metrics"]["test"]["beam"] == 3
    again = zoo.load(out)
    assert (out / "model.safetensors").read_bytes() == weights
    assert again.decode_cfg["beam"] == 3 and again.decode_cfg["alpha"] == 0.5
    assert again.config["metrics"]["test"]["beam"] == 3 and "beam 3" in (out / "README.md").read_text()

    # on other data the card would give that data's scores as the checkpoint's own: refused, nothing rewritten
    from datasets import Dataset
    config = (out / "config.json").read_bytes()
    reverse, cut = lambda ds: ds.select(range(len(ds) - 1, -1, -1)), lambda ds: ds.select(range(len(ds) - 1))
    for name, changed, change, said in [
            ("reversed", "validation", reverse, "references of the first validation examples"),
            ("reversed-test", "test", reverse, "references of the first test examples"),
            ("short", "validation", cut, "images, and the checkpoint was scored on"),
            ("no-test", "test", None, "it has no test split, which the checkpoint was scored on")]:
        other = tmp_path / name  # a split's rows in another order, its first rows alone, or no such split
        other.mkdir()
        for split in ("train", "validation", "test"):
            ds = Dataset.from_parquet(str(flickr_sample / f"{split}.parquet"))
            if split != changed:
                ds.to_parquet(other / f"{split}.parquet")
            elif change:
                change(ds).to_parquet(other / f"{split}.parquet")
        capsys.readouterr()
        assert redecode([str(out), "--data", str(other), "--beams", "1", "--alphas", "0"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and "not the data" in err[-1] and said in err[-1], err[-1]
        assert (out / "config.json").read_bytes() == config


def test_nan_or_wrong_sized_features_are_refused_clearly():
    model = tiny_model(vocab_size=12)
    p = caption.Predictor(model, {"model": {}, "decode": caption.DEFAULT_DECODE}, {"tokenizer.json": _tiny_tokenizer()})
    with pytest.raises(ValueError, match="NaN or infinite"):
        p.predict(np.full(1280, np.nan))
    with pytest.raises(ValueError, match="1280 values"):
        p.predict(np.zeros(10))
    with pytest.raises(TypeError):
        p.predict(42)


def _tiny_tokenizer() -> str:
    vocab = caption.Vocab.fit(["a dog runs on grass in the park"] * 2, min_word_freq=1)
    assert len(vocab) == 12
    return vocab.tokenizer.to_str()


def _png_claiming(width, height) -> bytes:
    """A small PNG whose header claims width x height pixels: a decompression bomb's signature."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "PNG")
    raw = bytearray(buf.getvalue())
    ihdr = raw[12:29]  # b"IHDR" + 13 bytes of data
    ihdr[4:12] = struct.pack(">II", width, height)
    raw[12:29] = ihdr
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(raw)


def _tiff(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="TIFF")
    return out.getvalue()


def _jpeg(mode="RGB", size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 128 if mode in ("L", "CMYK") else None).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def image_predictor():
    return caption.Predictor(tiny_model(vocab_size=12), {"model": {}, "decode": caption.DEFAULT_DECODE}, {"tokenizer.json": _tiny_tokenizer()})


@pytest.mark.parametrize("image", [
    pytest.param(lambda: Image.new("RGB", (1, 1), (200, 10, 10)), id="1x1"),
    pytest.param(lambda: Image.new("L", (40, 30), 90), id="grayscale"),
    pytest.param(lambda: Image.new("RGBA", (40, 30), (0, 0, 255, 0)), id="rgba"),
    pytest.param(lambda: _jpeg("CMYK"), id="cmyk-jpeg"),
    pytest.param(lambda: Image.new("I;16", (20, 20), 4000), id="16-bit"),
    pytest.param(lambda: _tiff(Image.linear_gradient("L").convert("F")), id="32-bit-float-tiff"),  # was "read-only"
])
def test_unusual_but_valid_images_get_a_caption(image_predictor, image):
    res = image_predictor.predict(image(), beam=2)
    assert res and isinstance(res[0]["caption"], str)


@pytest.mark.parametrize("data,message", [
    pytest.param(b"this is not an image", "not an image", id="not-an-image"),
    pytest.param(_jpeg(size=(200, 150))[:400], "truncated", id="truncated-jpeg"),
    pytest.param(_png_claiming(100_000, 100_000), "pixels|decompression bomb", id="huge"),
    pytest.param(_png_claiming(12_000, 12_000), "pixels|decompression bomb", id="over-our-limit"),
])
def test_bad_images_give_a_clear_error(image_predictor, tmp_path, data, message):
    with pytest.raises(ValueError, match=message):
        image_predictor.predict(data)
    path = tmp_path / "upload.jpg"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        image_predictor.predict(str(path))


def test_missing_image_path_is_a_clear_error(image_predictor, tmp_path):
    with pytest.raises(ValueError, match="no image file"):
        image_predictor.predict(tmp_path / "nope.jpg")


def test_a_registered_encoder_computes_missing_features_from_images_once(tmp_path):
    from datasets import Dataset, Features, Image as ImageFeature, Value

    calls = []

    def mean_rgb(image):  # a stand-in for a torchvision/timm model: image -> 1-d feature
        calls.append(image.size)
        return np.asarray(image, dtype=np.float32).mean((0, 1))

    image_encoder.register_encoder("mean_rgb", lambda: image_encoder.CallableEncoder(mean_rgb, dim=3, name="mean_rgb"))
    images = [Image.new("RGB", (8, 8), (10 * i, 20, 30)) for i in range(4)] + [Image.new("L", (5, 5), 77)]
    folder = tmp_path / "with_images"
    folder.mkdir()
    Dataset.from_dict({"caption_0": ["a"] * 5, "image": images},
                      features=Features({"caption_0": Value("string"), "image": ImageFeature()})
                      ).to_parquet(folder / "test.parquet")
    split = data.load(str(folder))[0]["test"]
    feats = image_encoder.split_features(split, "mean_rgb")
    assert feats.shape == (5, 3) and feats[1].tolist() == [10.0, 20.0, 30.0] and feats[4].tolist() == [77.0] * 3
    assert len(calls) == 5
    again = image_encoder.split_features(data.load(str(folder))[0]["test"], "mean_rgb")
    assert len(calls) == 5 and np.array_equal(again, feats)  # the second time comes from datasets' cache
    with pytest.raises(ValueError, match="unknown image encoder"):
        image_encoder.get_encoder("no-such-encoder")


@needs_shared_data
def test_encoder_reproduces_the_stored_efficientnet_lite0_features():
    import pyarrow.parquet as pq

    rows = pq.read_table(FLICKR / "test.parquet", columns=["image", "efficientnet_lite0"]).slice(0, 3).to_pylist()
    got = image_encoder.encode([r["image"] for r in rows]).numpy()
    want = np.asarray([r["efficientnet_lite0"] for r in rows], dtype=np.float32)
    assert got.shape == want.shape == (3, 1280)
    assert np.abs(got - want).max() <= 1e-2


@needs_shared_data
def test_bundled_caption_lstm_meets_its_bleu4_target_on_the_test_split():
    ds, _ = data.load(str(FLICKR))
    p = zoo.load("caption-lstm")
    m = p.evaluate(ds["test"].remove_columns("image"))
    assert m["bleu4"] >= 17.0 and m["bleu1"] >= 58.0, m
    image = ds["test"][0]["image"]  # the bundled model also captions a real photo end to end
    assert len(p.predict(image)[0]["caption"].split()) >= 3


@needs_shared_data
@pytest.mark.parametrize("name", ["caption-rnn", "caption-lstm", "caption-bilstm"])
def test_bundled_caption_models_reproduce_their_recorded_test_scores(name):
    """The README's BLEU-4 and the rest, measured again: the same images and decoding, the scores within 0.1
    (another CPU's rounding can change a beam's choice, so one caption of 1,000)."""
    ds, _ = data.load(str(FLICKR))
    p = zoo.load(name)
    measured, recorded = p.evaluate(ds["test"].remove_columns("image")), p.config["metrics"]["test"]
    exact = ("images", "beam", "alpha")
    assert {k: measured[k] for k in exact} == {k: recorded[k] for k in exact}
    scores = [k for k, v in recorded.items() if isinstance(v, float) and k not in exact]
    assert "bleu4" in scores and all(abs(measured[k] - recorded[k]) <= 0.1 for k in scores), (measured, recorded)


def test_the_three_caption_models_are_bundled_with_their_recipe():
    assert {"caption-rnn", "caption-lstm", "caption-bilstm"} <= set(zoo.list_models())
    for arch in caption.ARCHS:
        cfg = zoo.load(f"caption-{arch}").config
        assert cfg["task"] == "caption" and cfg["name"] == f"caption-{arch}" and cfg["metric"] == "bleu4"
        assert cfg["decode"]["beam"] >= 1 and cfg["dtype"] == "float16" and "bleu4" in cfg["metrics"]["test"]


def test_a_data_set_without_image_features_or_images_is_one_error_line_for_both_scripts(flickr_sample, tmp_path, capsys):
    """train/caption.py and train/caption_decoding.py read captions alike (caption.read_as_captions): exit 2
    and one line naming the folder, not a KeyError's traceback."""
    from datasets import Dataset
    from train.caption import main as train
    from train.caption_decoding import main as redecode
    bare = tmp_path / "bare"
    bare.mkdir()
    for split in ("train", "validation", "test"):
        ds = Dataset.from_parquet(str(flickr_sample / f"{split}.parquet")).remove_columns(["efficientnet_lite0", "image"])
        ds.to_parquet(bare / f"{split}.parquet")
    capsys.readouterr()  # the datasets library's progress bars
    assert train(["--arch", "rnn", "--data", str(bare), "--out", str(tmp_path / "run"), "--epochs", "1",
                  "--hidden-size", "8", "--embed-dim", "8", "--min-word-freq", "1", "--threads", "1"]) == 2
    err = [e for e in capsys.readouterr().err.splitlines() if e.startswith(("error", "Traceback"))]
    assert len(err) == 1 and f"{bare}: not usable for captions" in err[0]
    assert not (tmp_path / "run" / "model.safetensors").exists()
    import shutil
    from zoo.registry import BUNDLED
    folder = shutil.copytree(BUNDLED / "caption-rnn", tmp_path / "ck")  # a copy: the script rewrites its config
    assert redecode([str(folder), "--data", str(bare), "--beams", "1", "--alphas", "0"]) == 2
    err = [e for e in capsys.readouterr().err.splitlines() if e.startswith(("error", "Traceback"))]
    assert len(err) == 1 and f"{bare}: not usable for captions" in err[0]
