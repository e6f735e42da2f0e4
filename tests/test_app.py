"""The web app: its event functions on good and bad input (the page in a browser: test_app_browser.py). Tiny untrained checkpoints (tests/app_models.py) stand in for the zoo."""
import json
import os
import shutil
import socket
import sys
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # app.py and webapp/ live at the repo root, outside the installed packages

from app_models import write_models  # noqa: E402
from webapp import inside_views, logic, memory_views, models, plots  # noqa: E402
from webapp.shapes import shapes  # noqa: E402
import zoo  # noqa: E402
from zoo import probe  # noqa: E402

NER_TEXT = "Peter Blackburn visited Seoul ."


@pytest.fixture(scope="module", autouse=True)
def tiny_models(tmp_path_factory):
    """Point the app at tiny checkpoints for this module, then put things back."""
    root = write_models(tmp_path_factory.mktemp("models"))
    old = os.environ.get(models.ENV)
    os.environ[models.ENV] = str(root)
    models.clear_cache()
    yield root
    if old is None:
        os.environ.pop(models.ENV, None)
    else:
        os.environ[models.ENV] = old
    models.clear_cache()


def korean():
    return SimpleNamespace(headers={"accept-language": "ko-KR,ko;q=0.9,en;q=0.8"})


# --- event functions ---------------------------------------------------------------------------------

def test_sentiment_answers_in_three_columns_with_card_and_step_chart():
    *cols, words_chart, numbers_chart, notice = logic.sentiment("a gorgeous , witty movie .")
    labels, cards = cols[0::2], cols[1::2]
    assert len(labels) == 3 and all(abs(sum(lab.values()) - 1) < 1e-6 for lab in labels)
    for arch, card in zip(models.ARCHS, cards):
        assert f"sentiment-{arch}" in card and "ms" in card and "parameters" in card and "test accuracy 7" in card
    assert notice == ""
    # the by-step chart's table: one line per model, one point per word, in reading order, words on x
    assert words_chart["visible"] and not numbers_chart["visible"] and numbers_chart["value"] is None
    table = words_chart["value"]
    assert list(table["model"].unique()) == ["vanilla RNN", "LSTM", "BiLSTM (forward)"]
    for _, line in table.groupby("model"):
        assert list(line["word"]) == ["1 a", "2 gorgeous", "3 ,", "4 witty", "5 movie", "6 ."]
        assert line["P(positive)"].between(0, 1).all()


def test_sentiment_labels_are_each_predictors_own_prediction():
    text = "not bad at all , but painfully dull ."
    *cols, table, _, _ = logic.sentiment(text)
    table = table["value"]
    for arch, label in zip(models.ARCHS, cols[0::2]):
        pred = models.load(f"sentiment-{arch}")
        assert label["positive"] == pytest.approx(pred.predict(text)["positive"], abs=1e-6)
        line = table[table["model"] == plots.NAMES[arch]]["P(positive)"].tolist()
        assert line == pytest.approx(pred.prob_positive_by_step(text), abs=1e-6)


def test_by_step_table_keeps_repeated_words_apart_in_reading_order_in_any_script():
    table = plots.by_step(["the", "영화", "the", "x" * 30], {"lstm": [0.1, 0.2, 0.3, 0.4]})
    assert list(table["word"]) == ["1 the", "2 영화", "3 the", "4 " + "x" * 13 + "…"]
    labels = list(plots.by_step([f"w{i}" for i in range(12)], {"rnn": [0.5] * 12})["word"])
    assert labels[0] == "01 w0" and labels == sorted(labels)  # the chart sorts labels as text
    long = plots.by_step([f"w{i}" for i in range(200)], {"rnn": [0.5] * 200})  # an IMDB review: positions, words on hover
    assert list(long["word number"][:2]) == [1, 2] and list(long["text"][:2]) == ["w0", "w1"]
    assert "word" not in long  # its own column, drawn by its own chart: one chart's x never changes type


def test_the_card_names_the_dataset_of_a_model_trained_from_the_hub(tmp_path):
    folder = tmp_path / "sentiment-lstm"
    shutil.copytree(models.source("sentiment-lstm"), folder)
    config = json.loads((folder / "config.json").read_text())
    config["data"] = {"hub_id": "stanfordnlp/sst2", "fingerprint": {}, "revision": None}  # as data.load records it
    (folder / "config.json").write_text(json.dumps(config))
    assert models.card(zoo.load(folder))["data"] == "stanfordnlp/sst2"
    assert "(sst2)" in logic._metric_line(models.card(zoo.load(folder)), "en", 1.0)


def test_ner_confidence_is_the_mean_top_tag_probability_of_one_forward_pass():
    *cols, _ = logic.ner(NER_TEXT)
    for arch, card in zip(models.ARCHS, cols[1::2]):
        pred = models.load(f"ner-{arch}")
        _, batch = pred.encode(NER_TEXT)
        with torch.no_grad():
            expected = float(pred.model(batch).softmax(-1).amax(-1).mean())
        assert f"confidence {expected:.2f}" in card


def test_capture_ignores_the_same_model_run_by_another_thread():
    import threading
    pred = models.load("ner-lstm")
    with probe.Capture(pred.model) as em:
        worker = threading.Thread(target=pred.predict, args=(NER_TEXT,))
        worker.start()
        worker.join()
        assert em.x is None  # another request's pass is not this request's
        pred.predict("Seoul .")
    assert em.x.shape[:2] == (1, 2) and not pred.model._forward_hooks  # the hook is gone afterwards


def test_ner_highlights_the_predictors_entity_offsets():
    *cols, notice = logic.ner(NER_TEXT)
    for arch, value, card in zip(models.ARCHS, cols[0::2], cols[1::2]):
        expected = models.load(f"ner-{arch}").predict(NER_TEXT)["entities"]
        assert value["text"] == NER_TEXT
        assert value["entities"] == [{"entity": e["type"], "start": e["start"], "end": e["end"]} for e in expected]
        assert "test F1 5" in card and "confidence" in card


@pytest.mark.parametrize("bad", ["", "   \n\t", "\x00\u200b\x1b", None, 42, ["Peter"]])
def test_bad_text_is_a_clear_error_not_a_traceback(bad):
    for fn in (logic.sentiment, logic.ner, lambda t: inside_views.inside(t, "ner-lstm"), memory_views.memory,
               memory_views.lifetime):
        with pytest.raises(gr.Error) as err:
            fn(bad)
        assert "text" in err.value.message.lower()


def test_text_over_the_limit_is_cut_with_a_notice():
    *_, notice = logic.ner("Seoul " * 400)
    assert "1,000 characters" in notice
    text, notices = logic.clean_text("word " * 300, limit=100)
    assert len(text) <= 100 and notices


def test_korean_browser_gets_korean_cards_and_errors():
    *cols, _ = logic.ner(NER_TEXT, request=korean())
    assert "파라미터 808개" in cols[1] and "바닐라 RNN" in cols[1]
    with pytest.raises(gr.Error, match="입력하세요"):
        logic.ner(" ", request=korean())


def test_inside_shows_lstm_gates_and_only_h_for_a_vanilla_rnn():
    *figs, notice = inside_views.inside(NER_TEXT, "ner-lstm")
    assert all(f is not None for f in figs) and notice == ""
    *figs, notice = inside_views.inside(NER_TEXT, "ner-rnn")
    assert figs[0] is not None and figs[1:] == [None] * 5 and "no cell state" in notice
    assert [u["visible"] for u in inside_views.gate_rows("ner-rnn")] == [True] + [False] * 5  # h; no empty boxes
    assert [u["visible"] for u in inside_views.gate_rows("ner-lstm")] == [True] * 6
    with pytest.raises(gr.Error, match="Unknown model"):
        inside_views.inside(NER_TEXT, "../etc/passwd")


def test_the_inside_tab_starts_with_a_tagger_for_its_starting_sentence_and_lists_the_imdb_models():
    from webapp import ui_inside
    from webapp.examples import NER_EXAMPLES
    with gr.Blocks() as demo:
        inputs = ui_inside.inside_inputs()
        ui_inside.inside_tab(inputs)
    dropdown = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "inside-model")
    assert dropdown is inputs[1] and inputs[0].value == NER_EXAMPLES[0]
    assert dropdown.value == "ner-lstm"  # not a sentiment model on a NER example
    assert {"imdb-lstm", "ner-bilstm", "sentiment-rnn"} <= {c[1] for c in dropdown.choices}


def test_a_text_copied_from_a_pattern_tab_brings_that_patterns_model_of_the_same_kind():
    """A movie review copied into the inside tab was traced by the tagger left chosen there (ner-lstm)."""
    assert inside_views.follow_sentiment("a witty movie", "sst2", "ner-bilstm") == ("a witty movie", "sentiment-bilstm")
    assert inside_views.follow_sentiment("a long review", "imdb", "sentiment-rnn") == ("a long review", "imdb-rnn")
    assert inside_views.follow_ner("EU rejects it .", "imdb-lstm") == ("EU rejects it .", "ner-lstm")
    assert inside_views.follow_ner("EU", None) == ("EU", "ner-lstm")  # nothing chosen: the LSTM
    kept = inside_views.follow("text", "no-such-task", "ner-rnn")[1]  # a model that is not loaded: the choice stays
    assert kept == gr.update()


def test_a_bilstms_backward_heatmaps_say_they_read_right_to_left_with_columns_in_sentence_order():
    *figs, _ = inside_views.inside(NER_TEXT, "ner-bilstm", "backward")
    ax = figs[0].axes[0]
    assert ax.get_title(loc="left").endswith("ner-bilstm\nbackward: reads right to left, columns in sentence order")
    assert ax.get_title() == ""  # at the left, not centred: a phone's first screen shows a figure's left part
    assert [t.get_text() for t in ax.get_xticklabels()] == NER_TEXT.split()
    # as said, the columns in sentence order: the last word's column is the backward reader's first step, the state
    # after reading that word alone (a tagger's word vector does not depend on its neighbours)
    back = probe.trace_text(models.load("ner-bilstm"), NER_TEXT)["directions"]["backward"]["h"]  # (T, H)
    alone = probe.trace_text(models.load("ner-bilstm"), NER_TEXT.split()[-1])["directions"]["backward"]["h"]  # (1, H)
    assert torch.allclose(back[-1], alone[0], atol=1e-5) and not torch.allclose(back[0], alone[0], atol=1e-3)
    assert ax.images[0].get_array().data[:, -1] == pytest.approx(back[-1].numpy(), abs=1e-5)  # drawn as traced
    assert inside_views.inside(NER_TEXT, "ner-bilstm")[0].axes[0].get_title(loc="left").endswith("ner-bilstm\nforward")
    assert "\n" not in inside_views.inside(NER_TEXT, "ner-lstm")[0].axes[0].get_title(loc="left")  # one way: one line


def test_the_inside_tab_says_a_sentiment_models_answer_beside_its_trace():
    """A trace of "not bad at all" could not be read without the verdict, shown only in other tabs."""
    want = models.load("sentiment-lstm").predict("not bad at all")
    notice = inside_views.inside("not bad at all", "sentiment-lstm")[-1]
    assert notice.startswith(f"sentiment-lstm's answer on this text: **{want['label']}** ({want[want['label']]:.2f}).")
    assert "answer" not in inside_views.inside(NER_TEXT, "ner-lstm")[-1]  # a tagger's tags are the NER tab's


def test_inside_limits_the_heatmaps_to_the_first_words():
    *figs, notice = inside_views.inside("word " * 100, "sentiment-bilstm", "backward")
    assert f"first {inside_views.MAX_TRACE_WORDS} words are shown here (your text has 100)" in notice
    assert figs[0].axes[0].images[0].get_array().shape[1] == inside_views.MAX_TRACE_WORDS
    assert len(figs[0].axes[0].get_xticklabels()) == inside_views.MAX_TRACE_WORDS


def test_trace_text_is_what_the_fused_encoder_computes():
    pred = models.load("ner-bilstm")
    tr = probe.trace_text(pred, NER_TEXT)
    words, batch = pred.encode(NER_TEXT)
    with torch.no_grad():
        out, _ = pred.model.encoder(pred.model.embed(batch), batch["lengths"])
    h = torch.cat([tr["directions"]["forward"]["h"], tr["directions"]["backward"]["h"]], -1)
    assert tr["words"] == words and torch.allclose(h, out[0], atol=1e-5)
    assert set(tr["directions"]["forward"]) == {"h", "c", "i", "f", "g", "o"}


@pytest.mark.parametrize("model_set", ["imdb", "sst2", "ner"])
def test_memory_draws_each_models_normalised_gradient_and_lifetime_per_word(model_set):
    fig, notice = memory_views.memory("not bad at all .", model_set)
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "."]
    assert len(lines) == 3 and all(len(ln.get_ydata()) == 5 and ln.get_ydata()[-1] == pytest.approx(1) for ln in lines)
    life = memory_views.lifetime("not bad at all .", model_set)
    # a share (the LSTMs' forget-gate products, median and top decile) and a size (the RNN's |d h_T / d h_t|):
    # two panels, the LSTMs' above; on one axis the RNN's line above the LSTMs' medians read as a longer memory
    cells, rnn = life.axes
    # the BiLSTM's lines are its forward half's (zoo.memory.lifetime): the title said "LSTM" alone
    assert [len(ln.get_ydata()) for ln in cells.get_lines()] == [5] * 4 and "LSTM and BiLSTM (forward)" in cells.get_title()
    assert len(rnn.get_lines()) == 1 and "RNN" in rnn.get_title() and rnn.get_yscale() == cells.get_yscale() == "log"
    for ax in life.axes:  # every value in sight (a limit set before the log scale once hid them all)
        low, high = ax.get_ylim()
        values = [v for ln in ax.get_lines() for v in ln.get_ydata()]
        assert 0 < low <= min(values) and max(values) <= high
    g = probe.input_gradients(models.load("ner-rnn"), NER_TEXT)
    assert len(g["norms"]) == len(g["words"]) == 5 and all(n >= 0 for n in g["norms"])
    assert all(p.grad is None for p in models.load("ner-rnn").model.parameters())  # shared model untouched


@pytest.mark.parametrize("call", [lambda: memory_views.memory("fine", "caption"),
                                  lambda: memory_views.lifetime("fine", ["imdb"]),
                                  lambda: memory_views.distance("ner"), lambda: memory_views.memory("   ", "imdb")])
def test_memory_views_refuse_bad_choices_with_a_message(call):
    with pytest.raises(gr.Error):
        call()


def test_a_stored_validation_band_is_drawn_behind_the_line(tmp_path):
    pred = models.load("imdb-lstm")
    pred.config["memory"] = {"gradient": {"words": 80, "mean": [-1.0] * 80, "p10": [-2.0] * 80, "p90": [0.0] * 80}}
    try:
        fig, _ = memory_views.memory("not bad at all .", "imdb")
    finally:
        del pred.config["memory"]
    assert len(fig.axes[0].collections) == 1  # one model has a band; its dotted mean line too
    assert len([ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == ":"]) == 1


def test_the_distance_probe_view_draws_both_orders_and_tabulates_them():
    fig, table = memory_views.distance("sst2")
    assert len(fig.axes[0].get_lines()) == 2 * 3 + 1  # three models, cue first and cue last, and the chance line
    assert table.count("sentiment-lstm") == 2 and "k=200" in table


def test_sentiment_runs_the_imdb_models_on_a_long_review():
    from webapp.examples import REVIEW_EXAMPLES
    *cols, _, _, notice = logic.sentiment(REVIEW_EXAMPLES[0], "imdb")
    assert all(f"imdb-{a}" in card for a, card in zip(models.ARCHS, cols[1::2]))
    assert "read the first" not in notice and "longer than" not in notice  # a review of this length is not cut (the tiny
    # models know few of its words: that notice may be there)
    with pytest.raises(gr.Error, match="Unknown model"):
        logic.sentiment("fine", "imdb-but-not")


def test_shapes_reconcile_the_seed_notes_42_with_torchs_two_biases():
    md = shapes(2, 10, 3, "rnn", False, False)
    assert "1·1·3·(10 + 3 + 1) = **42**" in md and "1·1·3·(10 + 3 + 2) = **45**" in md and "`(1, 3)`" in md
    # each factor named ("hence the factor 1" did not say which of the two 1s)
    assert "directions 1 · gate blocks 1 (an LSTM has 4: i, f, g, o; a vanilla RNN 1) · hidden 3 · (input 10 + " \
           "hidden 3 + 1 bias)" in md
    assert "directions 2 · gate blocks 4" in shapes(2, 10, 3, "lstm", True, False)
    r = probe.layer_shapes("lstm", 10, 5, 128, bidirectional=True, return_sequences=True)
    assert r["output"] == r["result"] == (1, 10, 256) and r["keras_params"] == 2 * 4 * 128 * (5 + 128 + 1)
    assert r["weights"]["weight_ih_l0_reverse"] == (512, 5)
    assert r["y"] == (1, 10, 1) and r["head_params"] == 257  # the note's "y: 1", per step: many to many


def test_shapes_end_in_the_notes_one_unit_output_layer_and_name_the_zoos_two_unit_head_truly():
    md = shapes(2, 10, 3, "rnn", False, False)
    assert "| output layer y | `(1, 1)` |" in md and "(3 + 1)·1 = **4**" in md
    head = zoo.load("sentiment-rnn").model.head  # "302 for sentiment-rnn's D = 150"
    assert "`nn.Linear(D, 2)`" in md and "302 for `sentiment-rnn`'s D = 150" in md
    assert (head.in_features, head.out_features, sum(p.numel() for p in head.parameters())) == (150, 2, 302)


@pytest.mark.parametrize("args", [(10**6, 10, 3), (2, 0, 3), (2, 10, 3.5), (2, "10", 3), (2, 10, True)])
def test_shapes_refuse_sizes_out_of_bounds_or_not_whole(args):
    with pytest.raises(gr.Error, match="whole number"):
        shapes(*args, "rnn")


def test_a_task_without_models_says_so_and_the_page_still_builds(monkeypatch):
    monkeypatch.setattr(models, "source", lambda name: f"/nonexistent/{name}" if name.startswith("sentiment") else
                        str(Path(os.environ[models.ENV]) / name))
    models.clear_cache()
    with pytest.raises(gr.Error, match="No sentiment models"):
        logic.sentiment("a fine movie")
    from webapp.ui import build
    demo = build()
    notices = [b.value for b in demo.blocks.values() if getattr(b, "elem_id", None) == "sentiment-missing"]
    assert notices and "sentiment-rnn" in notices[0]
    assert logic.ner(NER_TEXT)[1]  # the other tabs still work
    models.clear_cache()


# --- the app served, for the API and browser tests ---------------------------------------------------

@pytest.fixture(scope="module")
def server(tiny_models):
    """The app's own `demo`, served in this process on a free 127.0.0.1 port."""
    import app
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.demo.close()
