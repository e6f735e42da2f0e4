"""predict_batch on every predictor: the same answers as predict on each input, in input order, and each bad
input's own error (errors="record") without stopping the rest."""
import numpy as np
import pytest
import torch

import zoo

from serving_models import write_caption_model, write_images, write_models

# lengths 1 to 17 words, shuffled so batches by length reorder them
TEXTS = ["Peter visited Seoul .", "a", "EU rejects German call to boycott British lamb , said Peter Blackburn in Brussels .",
         "not bad at all .", "The Bank of Korea said on Monday that John left the office in New York .",
         "Chan works for Reuters .", "painfully dull acting ."]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = write_models(tmp_path_factory.mktemp("models"), tasks=("ner", "sentiment"))
    for arch in ("rnn", "bilstm"):
        write_caption_model(root / f"caption-{arch}", arch)
    return root


@pytest.mark.parametrize("name", ["ner-rnn", "ner-bilstm", "sentiment-lstm", "sentiment-bilstm"])
def test_text_predict_batch_equals_predict_on_a_mixed_length_sample(models, name):
    p = zoo.load(models / name)
    scores = {"scores": True}
    for batch_size in (1, 3, 64):
        batch = p.predict_batch(TEXTS, batch_size=batch_size, **scores)
        assert len(batch) == len(TEXTS)
        for text, got in zip(TEXTS, batch):
            want = p.predict(text, **scores)
            if name.startswith("ner"):
                assert [t["tag"] for t in got["tokens"]] == [t["tag"] for t in want["tokens"]]
                assert got["entities"] == [{**e, "score": pytest.approx(e["score"], abs=1e-5)} for e in want["entities"]]
                for g, w in zip(got["tokens"], want["tokens"]):
                    assert list(g["scores"].values()) == pytest.approx(list(w["scores"].values()), abs=1e-5)
            else:
                assert got == {k: pytest.approx(v, abs=1e-5) for k, v in want.items()}


@pytest.mark.parametrize("arch", ["rnn", "bilstm"])
def test_caption_predict_batch_equals_predict_on_images_and_features(models, tmp_path, arch):
    p = zoo.load(models / f"caption-{arch}")
    rng = np.random.default_rng(0)
    inputs = [*write_images(tmp_path, 3), *(rng.normal(0, 1, 1280).astype(np.float32) for _ in range(4))]
    for batch_size in (1, 2, 64):
        batch = p.predict_batch(inputs, batch_size=batch_size)
        assert len(batch) == len(inputs)
        for x, got in zip(inputs, batch):
            want = p.predict(x)
            assert [c["caption"] for c in got] == [c["caption"] for c in want]
            assert [c["score"] for c in got] == pytest.approx([c["score"] for c in want], abs=1e-4)  # rounded to 4
    assert p.predict_batch(inputs[:2], beam=1, max_len=3) == [p.predict(x, beam=1, max_len=3) for x in inputs[:2]]


def test_a_bilstm_captioner_gives_at_most_beam_captions_as_the_others_do(models):
    """Its two decoders propose a beam each: predict(beam=3) gave up to six captions, the other models three."""
    x = np.ones(1280, dtype=np.float32)
    for arch in ("rnn", "bilstm"):
        p = zoo.load(models / f"caption-{arch}")
        assert len(p.predict(x, beam=2)) == 2 and len(p.predict(x, beam=1)) == 1
        assert [len(c) for c in p.predict_batch([x, x], beam=2)] == [2, 2]


def test_a_caption_cut_at_max_len_is_marked_truncated_and_a_finished_one_is_not(models):
    """--max-len 5 gave "two dogs run in the" with a score like any other: nothing said it was unfinished."""
    p = zoo.load(models / "caption-rnn")  # untrained: it writes on until its max_len
    x = np.ones(1280, dtype=np.float32)
    seen = set()
    for max_len in (2, 3, 8):
        for c in p.predict(x, max_len=max_len) + p.predict_batch([x], max_len=max_len)[0]:
            assert c.get("truncated") is (True if len(c["caption"].split()) >= max_len else None), c
            seen.add(c.get("truncated"))
    assert True in seen  # the rule was met at least once


def test_a_caption_predictor_takes_scores_as_the_text_predictors_do(models):
    """predict(image, scores=True) was a TypeError on a caption model; NER and sentiment take it."""
    p = zoo.load(models / "caption-rnn")
    x = np.ones(1280, dtype=np.float32)
    scored = p.predict(x)
    assert p.predict(x, scores=True) == scored and all("score" in c for c in scored)
    assert p.predict(x, scores=False) == [{"caption": c["caption"]} for c in scored]
    assert p.predict_batch([x], scores=False) == [p.predict(x, scores=False)]


@pytest.mark.parametrize("name, bad, message", [
    ("sentiment-lstm", "   ", "no words"),
    ("ner-lstm", 42, "expected text"),
    ("caption-rnn", "no/such/image.png", "no image file"),
])
def test_a_bad_input_is_an_error_naming_its_index_or_its_own_record(models, name, bad, message):
    p = zoo.load(models / name)
    good = np.zeros(1280, dtype=np.float32) if name.startswith("caption") else "Peter visited Seoul ."
    with pytest.raises((TypeError, ValueError), match=rf"input 1: .*{message}"):
        p.predict_batch([good, bad, good])
    recorded = p.predict_batch([good, bad, good], errors="record")
    assert message in recorded[1]["error"]
    assert recorded[0] == recorded[2] == p.predict(good)
    with pytest.raises(ValueError, match="errors must be"):
        p.predict_batch([good], errors="ignore")


def test_predict_batch_of_nothing_is_an_empty_list(models):
    for name in ("ner-rnn", "sentiment-rnn", "caption-rnn"):
        assert zoo.load(models / name).predict_batch([]) == []


def test_caption_batches_run_batch_size_images_per_decoding_pass(models, monkeypatch):
    from tasks import caption_decode

    p = zoo.load(models / "caption-rnn")
    sizes = []
    real = caption_decode.generate
    monkeypatch.setattr(caption_decode, "generate", lambda model, feats, *a: sizes.append(len(feats)) or real(model, feats, *a))
    p.predict_batch([torch.zeros(1280)] * 5, batch_size=2)
    assert sizes == [2, 2, 1]


@pytest.mark.parametrize("name", ["ner-bilstm", "sentiment-lstm", "caption-rnn"])
def test_any_iterable_of_inputs_is_read_and_a_single_input_or_bad_batch_size_is_refused(models, name):
    p = zoo.load(models / name)
    inputs = [np.ones(p.model.cfg.feature_dim), np.zeros(p.model.cfg.feature_dim)] if name.startswith("caption") \
        else TEXTS[:3]
    want = p.predict_batch(list(inputs))
    assert p.predict_batch(x for x in inputs) == want  # a generator: read once, not consumed twice
    assert p.predict_batch(tuple(inputs)) == want
    for single in ("Peter visited Seoul .", {"Peter": 1}, 42):
        with pytest.raises(TypeError, match="list of inputs"):
            p.predict_batch(single)
    for size in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size must be a whole number"):
            p.predict_batch(list(inputs), batch_size=size)
    assert p.predict_batch(inputs=list(inputs)) == want  # one keyword for every task


@pytest.mark.parametrize("name", ["ner-bilstm", "sentiment-lstm"])
def test_a_dataframe_is_refused_with_its_column_to_pass_not_read_as_its_column_names(models, name):
    pd = pytest.importorskip("pandas")
    p = zoo.load(models / name)
    table = pd.DataFrame({"text": TEXTS[:3]})
    with pytest.raises(TypeError, match=r"pass one of its columns, such as df\['text'\]"):
        p.predict_batch(table)
    assert p.predict_batch(table["text"]) == p.predict_batch(TEXTS[:3])  # a column (a Series) is a list of inputs


@pytest.mark.parametrize("bad, message", [([10**400] * 8, "within float range"), (["1.5"] * 8, "text"),
                                          ([2**70] * 7 + ["1"], "text among the numbers")])
def test_feature_vectors_of_huge_integers_or_numbers_as_text_are_refused(models, bad, message):
    p = zoo.load(models / "caption-rnn")
    bad = bad * (p.model.cfg.feature_dim // 8)
    with pytest.raises(ValueError, match=message):
        p.predict(bad)
    got = p.predict_batch([np.ones(p.model.cfg.feature_dim), bad], errors="record")
    assert isinstance(got[0], list) and message in got[1]["error"]


@pytest.mark.parametrize("setting", [{"beam": float("inf")}, {"max_len": np.inf}, {"beam": 2.7}, {"beam": True},
                                     {"beam": "3"}, {"max_len": float("nan")}, {"beam": 0}])
def test_decoding_settings_that_are_not_whole_numbers_in_range_are_refused_not_rounded(models, setting):
    p = zoo.load(models / "caption-rnn")
    with pytest.raises(ValueError, match="must be a whole number"):
        p.predict(np.ones(p.model.cfg.feature_dim), **setting)
    assert p.predict(np.ones(p.model.cfg.feature_dim), beam=np.int64(2), max_len=5.0)


def test_an_array_of_pixels_is_told_to_come_as_an_image_not_as_a_feature_vector(models):
    p = zoo.load(models / "caption-rnn")
    with pytest.raises(ValueError, match=r"in an array of shape \(32, 32, 3\): for an image, pass a PIL image or its path"):
        p.predict(np.zeros((32, 32, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"got 7$"):  # a short vector: just the count
        p.predict(np.zeros(7))


def test_a_folder_given_to_predict_batch_says_how_to_pass_its_images(models, tmp_path):
    """It said "for one input use predict", which refuses a folder too."""
    p = zoo.load(models / "caption-rnn")
    for folder in (str(tmp_path), tmp_path):
        with pytest.raises(TypeError, match="got the folder .*: pass a list of its files' inputs"):
            p.predict_batch(folder)
