"""zoo.memory: the distance probe, the gradient profile and the memory lifetime, checked by hand on tiny
models and, where the bundled IMDB models (and ../shared/datasets) are there, on the claims the app makes."""
import math

import pytest
import torch

import zoo
from app_models import write_models
from conftest import SHARED_DATA
from zoo import memory, probe


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_models(tmp_path_factory.mktemp("models"), tasks=("sentiment",))


class Remembers:
    """A stand-in classifier that sees only the last `span` words and knows the cue words."""

    def __init__(self, span):
        self.span, self.calls = span, 0

    def predict_batch(self, texts, batch_size=64):
        self.calls += 1
        out = []
        for t in texts:
            seen = t.split()[-self.span:]
            pos = sum(w in ("wonderful", "brilliant", "superb", "excellent", "enjoyed", "beautiful", "best",
                            "delightful", "outstanding", "fantastic", "gripping", "lovely", "great", "loved",
                            "masterpiece", "enjoyable", "smart", "recommended", "amazing") for w in seen)
            neg = sum(w in ("dull", "terrible", "awful", "boring", "disliked", "ugly", "worst", "dreadful", "wooden",
                            "horrible", "tedious", "bad", "poor", "hated", "disaster", "depressing", "stupid",
                            "avoid", "Avoid") for w in seen)
            p = 0.5 + 0.1 * (pos > neg) - 0.1 * (neg > pos)  # the sentiment predictor's answer: its label, P
            out.append({"label": "positive" if p > 0.5 else "negative", "positive": p, "negative": 1 - p})
        return out


def test_the_probe_puts_k_filler_words_between_the_cue_and_the_end():
    pairs = memory.probe_texts(7)
    assert len(pairs) == 40 and {label for _, label in pairs} == {"positive", "negative"}
    text, _ = pairs[0]
    assert text.startswith(memory.CUES["positive"][0]) and text.split()[-7:] == memory.filler(7).split()
    last, _ = memory.probe_texts(7, "cue_last")[0]
    assert last.endswith(memory.CUES["positive"][0]) and last.split()[:7] == memory.filler(7).split()
    assert len(memory.filler(500).split()) == 500  # repeats when asked for more than it has
    # the j-th positive and the j-th negative cue share their stretch of filler, which starts a sentence
    positive, negative = memory.probe_texts(9)[3][0], memory.probe_texts(9)[23][0]
    assert positive.split()[-9:] == negative.split()[-9:] == memory.filler(9, start=3).split()
    assert memory.filler(9, start=3).split()[0] == "The" and memory.filler(9, start=3) != memory.filler(9)
    with pytest.raises(ValueError):
        memory.probe_texts(3, "sideways")


def test_a_model_that_remembers_only_recent_words_falls_to_chance_once_the_cue_is_out_of_reach():
    model = Remembers(span=30)
    first = memory.distance_probe({"short": model}, distances=(0, 10, 40, 100))
    assert first["accuracy"]["short"] == [100.0, 100.0, 50.0, 50.0] and first["n"] == 40
    last = memory.distance_probe({"short": model}, distances=(0, 10, 40, 100), order="cue_last")
    assert last["accuracy"]["short"] == [100.0] * 4  # the control: the cue is the last thing read
    assert model.calls == 8  # one batched call per distance, not one per text


def test_the_probe_runs_batched_on_real_predictors(tiny):
    preds = {n: zoo.load(tiny / n) for n in ("sentiment-rnn", "sentiment-bilstm")}
    out = memory.distance_probe(preds, distances=(0, 5))
    assert set(out["accuracy"]) == set(preds) and all(len(a) == 2 and all(0 <= x <= 100 for x in a)
                                                       for a in out["accuracy"].values())
    text = memory.probe_texts(5)[3][0]
    batch = preds["sentiment-rnn"].predict_batch([text, "a fine film ."])[0]
    assert batch["positive"] == pytest.approx(preds["sentiment-rnn"].predict(text)["positive"], abs=1e-6)


@pytest.mark.parametrize("name", ["sentiment-rnn", "sentiment-lstm", "sentiment-bilstm"])
def test_the_input_gradients_are_the_gradients_of_each_words_own_vector(tiny, name):
    """Computed another way than probe.input_gradients (which captures the embedder's output): each word of
    the text is a different row of the word table, and the word vector x_t is that row, so d log P / d x_t is
    the row's own gradient, taken here as a parameter gradient of the table."""
    p = zoo.load(tiny / name)
    text = "a gorgeous , witty movie ."
    got = probe.input_gradients(p, text)["norms"]
    _, batch = p.encode(text)
    ids = batch["words"][0].tolist()
    assert len(set(ids)) == len(ids) == 6  # every word its own row
    with torch.enable_grad():
        target = p.model(batch).log_softmax(-1)[0].max()
        (g,) = torch.autograd.grad(target, p.model.embed.words.weight)
    assert got == pytest.approx(g[ids].norm(dim=-1).tolist(), rel=1e-5)


def test_the_gradient_profile_is_each_words_gradient_over_the_last_words(tiny):
    p = zoo.load(tiny / "sentiment-lstm")
    g = memory.gradient_profile(p, "a gorgeous , witty movie .")
    raw = probe.input_gradients(p, "a gorgeous , witty movie .")["norms"]
    assert g["ratio"][-1] == pytest.approx(1.0) and g["ratio"] == pytest.approx([n / raw[-1] for n in raw])
    assert memory.quarter_ratio([1e-3, 1e-3, 1, 1, 1, 1, 1, 1]) == pytest.approx(1e-3)


def test_the_memory_lifetime_is_the_product_of_the_later_forget_gates_recomputed_step_by_step(tiny):
    p = zoo.load(tiny / "sentiment-lstm")
    text = "a gorgeous , witty movie , not bad at all ."
    life = memory.lifetime(p, text)
    f = probe.trace_text(p, text)["directions"]["forward"]["f"]  # (T, H)
    T = f.shape[0]
    for t in range(T):
        keep = torch.ones(f.shape[1])
        for s in range(t + 1, T):
            keep = keep * f[s]
        assert life["median"][t] == pytest.approx(float(keep.median()), rel=1e-5)
        assert life["top_decile"][t] == pytest.approx(float(keep.quantile(0.9)), rel=1e-5)
    assert life["kind"] == "forget" and life["median"][-1] == 1.0


def test_the_rnn_lifetime_is_the_norm_of_the_jacobian_autograd_finds(tiny):
    p = zoo.load(tiny / "sentiment-rnn")
    text = "a gorgeous , witty movie , not bad ."
    life = memory.lifetime(p, text)
    words, batch = p.encode(text)
    rnn = p.model.encoder.rnn
    with torch.no_grad():
        x = p.model.embed(batch)[0]  # (T, E)
    w_ih, w_hh, b = rnn.weight_ih_l0.detach(), rnn.weight_hh_l0.detach(), (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach()

    def run_from(t, h):  # h_T as a function of h_t
        for s in range(t + 1, len(words)):
            h = torch.tanh(x[s] @ w_ih.T + h @ w_hh.T + b)
        return h

    h = torch.zeros(w_hh.shape[0])
    states = []
    for s in range(len(words)):
        h = torch.tanh(x[s] @ w_ih.T + h @ w_hh.T + b)
        states.append(h)
    for t in range(len(words)):
        jac = torch.autograd.functional.jacobian(lambda h0: run_from(t, h0), states[t])
        assert life["norm"][t] == pytest.approx(float(torch.linalg.matrix_norm(jac, ord=2)), rel=1e-4, abs=1e-7)


# --- the claims the app makes, on the bundled IMDB models --------------------------------------------------

IMDB = {f"imdb-{a}" for a in ("rnn", "lstm", "bilstm")}
assert IMDB <= set(zoo.list_models()), "the bundled IMDB models are missing"  # they ship in git: no skip


def needs_imdb(test):
    return test


@needs_imdb
def test_on_the_default_text_the_rnns_gradient_fades_at_least_5x_more_than_the_lstms():
    from webapp.examples import MEMORY_EXAMPLE
    rnn, lstm = (memory.gradient_profile(zoo.load(n), MEMORY_EXAMPLE)["ratio"] for n in ("imdb-rnn", "imdb-lstm"))
    assert len(rnn) == len(lstm) == 80  # the example is the view's full 80 words
    assert memory.quarter_ratio(rnn) * 5 <= memory.quarter_ratio(lstm)


@needs_imdb
def test_the_recorded_validation_bands_say_the_same():
    bands = {n: zoo.load(n).config["memory"]["gradient"] for n in ("imdb-rnn", "imdb-lstm")}
    assert all(b["texts"] >= 100 and b["words"] == 80 and len(b["mean"]) == 80 for b in bands.values())
    assert bands["imdb-rnn"]["quarter_ratio"] * 5 <= bands["imdb-lstm"]["quarter_ratio"]


@needs_imdb
@pytest.mark.skipif(not (SHARED_DATA / "imdb").is_dir(), reason="../shared/datasets/imdb is absent")
def test_on_imdb_validation_reviews_the_rnns_gradient_fades_at_least_5x_more_than_the_lstms():
    from tasks import sentiment
    from zoo import data
    ds, _ = data.load(str(SHARED_DATA / "imdb"))
    sentiment.held_out_validation(ds)
    texts = ds["validation"]["text"][:60]
    bands = {n: memory.gradient_band(zoo.load(n), texts, 80) for n in ("imdb-rnn", "imdb-lstm")}
    assert min(b["texts"] for b in bands.values()) >= 20
    assert bands["imdb-rnn"]["quarter_ratio"] * 5 <= bands["imdb-lstm"]["quarter_ratio"]
    assert math.isfinite(bands["imdb-lstm"]["quarter_ratio"])


def test_the_memory_profile_script_records_each_models_band_in_its_config(tmp_path, conll_sample, capsys):
    import json
    import shutil
    from test_sentiment import write_split
    from train.memory_profile import main
    models = write_models(tmp_path / "models", tasks=("imdb",))
    reviews = [" ".join(["a", "gorgeous", "witty", "movie", "not", "bad", "at", "all"] * 3)] * 30
    for split in ("train", "validation"):
        write_split(tmp_path / "imdb", split, reviews, [i % 2 for i in range(30)], column="text")
    shutil.copytree(models / "imdb-lstm", tmp_path / "ck")
    assert main([str(tmp_path / "ck"), "--data", str(tmp_path / "imdb"), "--texts", "4", "--words", "12"]) == 0
    band = zoo.load(tmp_path / "ck").config["memory"]["gradient"]
    assert band["texts"] == 4 and band["words"] == 12 and len(band["mean"]) == len(band["p10"]) == 12
    assert band["mean"][-1] == pytest.approx(0.0, abs=1e-6)  # log10 of the last word's ratio, 1
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["texts"] == 4
    # another task's data: one line (it was datasets' "Column 'text' doesn't exist", a traceback)
    assert main([str(tmp_path / "ck"), "--data", str(conll_sample)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "no label, sentence or text column" in err[0]


@needs_imdb
def test_the_memory_tabs_note_holds_on_its_default_review_rnn_orders_of_magnitude_lstm_within_reach():
    from webapp.examples import MEMORY_EXAMPLE
    ratios = {a: memory.gradient_profile(zoo.load(f"imdb-{a}"), MEMORY_EXAMPLE)["ratio"] for a in ("rnn", "lstm")}
    assert memory.quarter_ratio(ratios["rnn"]) < 1e-3  # "falls by orders of magnitude"
    assert memory.quarter_ratio(ratios["lstm"]) > 1e-2  # "stays within reach"


def test_the_rnns_vanishing_gradients_are_measured_to_their_size_not_read_as_zero():
    """The first words' gradient entries on the default review are near 1e-29: float32 holds them, but not their
    squares, so a float32 norm read 15 words as exactly 0 (drawn at the chart's 1e-30 floor, a cliff that is not
    there). In float64 each is its size: about 1e-27 of the last word's for the first word."""
    from webapp.examples import MEMORY_EXAMPLE
    ratio = memory.gradient_profile(zoo.load("imdb-rnn"), MEMORY_EXAMPLE)["ratio"]
    assert min(ratio) > 0 and 1e-29 < ratio[0] < 1e-25, (min(ratio), ratio[0])
