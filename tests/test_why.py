"""Why the cell is built as it is: the what-if switches change exactly what they say, nothing switched is
the model itself, the caption decoder's trace, the NER tags word by word, and the note's NumPy loop."""
import threading

import numpy as np
import pytest
import torch

import zoo
from app_models import write_models
from test_caption import tiny_model, _tiny_tokenizer
from zoo import cells, checkpoint, note, why
from zoo.encoder import what_if


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_models(tmp_path_factory.mktemp("models"), tasks=("ner", "sentiment"))


def _step(switch):
    torch.manual_seed(0)
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4) * 3
    w_ih, w_hh, b_ih, b_hh = torch.randn(16, 3), torch.randn(16, 4), torch.randn(16), torch.randn(16)
    z = x @ w_ih.T + h @ w_hh.T + b_ih + b_hh
    i, f, g, o = torch.sigmoid(z[:, :4]), torch.sigmoid(z[:, 4:8]), torch.tanh(z[:, 8:12]), torch.sigmoid(z[:, 12:])
    return (i, f, g, o, c), cells.lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh, switch)


@pytest.mark.parametrize("switch, expected", [
    (None, lambda i, f, g, o, c: (f * c + i * g, o * torch.tanh(f * c + i * g))),
    ("forget=1", lambda i, f, g, o, c: (c + i * g, o * torch.tanh(c + i * g))),
    ("forget=0", lambda i, f, g, o, c: (i * g, o * torch.tanh(i * g))),
    ("input=1", lambda i, f, g, o, c: (f * c + g, o * torch.tanh(f * c + g))),
    ("add", lambda i, f, g, o, c: (f + c + i + g, o + torch.tanh(f + c + i + g))),
    ("no-tanh", lambda i, f, g, o, c: (f * c + i * g, o * (f * c + i * g))),
    ("output=1", lambda i, f, g, o, c: (f * c + i * g, torch.tanh(f * c + i * g))),
    # (1 a^T / H) b written out as a matrix product, one (H, H) matrix per row of the batch
    ("matrix", lambda i, f, g, o, c: (lambda mix: (mix(f, c) + mix(i, g), mix(o, torch.tanh(mix(f, c) + mix(i, g)))))(
        lambda a, b: torch.einsum("bjk,bk->bj", torch.ones(a.shape[0], a.shape[1], 1) * a[:, None, :] / a.shape[1], b))),
])
def test_each_switch_changes_the_cell_step_as_its_formula_says(switch, expected):
    parts, (h, c, _) = _step(switch)
    c_want, h_want = expected(*parts)
    torch.testing.assert_close(c, c_want)
    torch.testing.assert_close(h, h_want)


def test_unknown_switches_and_switching_a_vanilla_rnn_are_refused(tiny):
    with pytest.raises(ValueError, match="unknown switch"):
        with what_if("forget=2"):
            pass
    with pytest.raises(ValueError, match="no gates"):
        why.what_if(zoo.load(tiny / "sentiment-rnn"), "a fine film")


@pytest.mark.parametrize("name", ["sentiment-lstm", "ner-bilstm"])
def test_the_what_if_table_has_a_nothing_forced_row_and_one_per_switch(tiny, name):
    answers = why.what_if(zoo.load(tiny / name), "Peter visited Seoul , not a bad city .")
    assert set(answers) == {"none", *cells.SWITCHES}


@pytest.mark.parametrize("name", ["sentiment-lstm", "sentiment-bilstm", "imdb-lstm", "imdb-bilstm", "ner-lstm",
                                  "ner-bilstm"])
def test_the_readable_cells_with_nothing_forced_answer_as_the_trained_models_fused_kernels(name, monkeypatch):
    """The switches run through the readable cells (zoo.cells): unforced, those give each bundled model's own
    answers, so a switch's row differs from the model's by the switch alone (docs/lessons.md)."""
    from zoo.encoder import RecurrentEncoder
    p = zoo.load(name)
    texts = ["the cast is great and the songs are fun , but the film is too long and boring .",
             "EU rejects German call to boycott British lamb .", "Peter Blackburn visited Seoul , not a bad city ."]
    fused = [p.predict(t, scores=True) for t in texts]

    def readable(self, x, lengths, route=None, outputs=True):
        out, final = self._cells(x, lengths, None)  # every step through zoo.cells.lstm_cell, nothing forced
        return (out if outputs else None), final
    monkeypatch.setattr(RecurrentEncoder, "forward", readable)
    for t, f, a in zip(texts, fused, [p.predict(t, scores=True) for t in texts]):
        if "label" in f:
            assert a["label"] == f["label"] and abs(a["positive"] - f["positive"]) < 1e-5, (name, t)
        else:
            assert [x["tag"] for x in a["tokens"]] == [x["tag"] for x in f["tokens"]], (name, t)
            assert max(abs(x["scores"][k] - y["scores"][k]) for x, y in zip(a["tokens"], f["tokens"])
                       for k in x["scores"]) < 1e-5, (name, t)


def test_a_switch_holds_only_inside_its_block_and_its_thread(tiny):
    p = zoo.load(tiny / "sentiment-lstm")
    text = "a gorgeous , witty movie , not bad at all ."
    plain, seen = p.predict(text)["positive"], []
    with what_if("forget=0"):
        switched = p.predict(text)["positive"]
        other = threading.Thread(target=lambda: seen.append(p.predict(text)["positive"]))
        other.start()
        other.join()
    assert switched != plain and seen == [plain] and p.predict(text)["positive"] == plain


def test_the_cell_state_grows_past_one_where_tanh_of_it_and_h_stay_below():
    torch.manual_seed(0)
    enc_model = zoo.load("sentiment-lstm")
    m = why.cell_magnitudes(enc_model, "a gorgeous , witty , seductive movie , one of the best of the year , "
                                       "truly wonderful , moving and beautifully acted .")
    assert max(m["c_max"]) > 2 and max(m["tanh_c_max"]) <= 1 and max(m["h_max"]) <= 1  # float32: tanh(16) is 1.0
    assert len(m["c_max"]) == len(m["words"]) and all(a >= b for a, b in zip(m["c_max"], m["c_mean"]))


def test_right_context_gives_one_row_per_prefix_ending_with_predict(tiny):
    p = zoo.load(tiny / "ner-bilstm")
    text = "Peter Blackburn visited the Bank of Korea in Seoul ."
    words, rows = p.tags_by_prefix(text)
    assert len(rows) == len(words) and [len(r) for r in rows] == list(range(1, len(words) + 1))
    assert rows[-1] == [t["tag"] for t in p.predict(text)["tokens"]]
    assert rows[2] == [t["tag"] for t in p.predict(words[:3])["tokens"]]


@pytest.mark.parametrize("arch", ["rnn", "lstm", "bilstm"])
def test_the_caption_trace_has_a_column_per_generated_word_and_is_the_decoders_own_computation(tmp_path, arch):
    from dataclasses import asdict
    from tasks import caption
    from tasks.caption_trace import trace_caption
    model = tiny_model(arch, vocab_size=12)
    config = {"task": "caption", "name": f"caption-{arch}", "arch": arch, "model": asdict(model.cfg), "metric": "bleu4",
              "decode": caption.DEFAULT_DECODE}
    p = zoo.load(checkpoint.save(tmp_path / "c", model, config, files={"tokenizer.json": _tiny_tokenizer()},
                                 dtype=torch.float32))
    feature = np.random.default_rng(3).normal(0, 1, 1280)
    tr = trace_caption(p, feature, beam=2)
    assert tr["caption"] == p.predict(feature, beam=2)[0]["caption"]
    n = len(tr["caption"].split())
    assert list(tr["decoders"]) == (["forward", "backward"] if arch == "bilstm" else ["forward"])
    for d, (name, dec) in enumerate(tr["decoders"].items()):
        assert len(dec["words"]) == dec["h"].shape[0] == n + 1 and dec["words"][-1] == "<eos>"
        written = tr["caption"].split()
        assert dec["words"][:-1] == (written if name == "forward" else written[::-1])
        ids = p.vocab.word_ids(dec["words"][:-1])
        inputs = torch.tensor([[p.model.cfg.bos_id, *ids]])
        with torch.no_grad():
            out, _ = p.model.decoders[d].rnn(p.model.embed(inputs), p.model.start(d, p.feature(feature)))
        torch.testing.assert_close(dec["h"], out[0], atol=1e-5, rtol=0)
        assert ("f" in dec) == (arch != "rnn")


def test_the_notes_numpy_loop_on_real_weights_equals_the_encoder(tiny):
    r = note.run(zoo.load(tiny / "sentiment-rnn"), "a gorgeous , witty movie .")
    assert r["numpy"].shape == r["torch"].shape == (6, 6) and r["max_abs_diff"] < 1e-5
    assert r["shapes"]["Wx"] == (6, 8) and r["shapes"]["Wh"] == (6, 6)
    with pytest.raises(ValueError, match="vanilla RNN"):
        note.run(zoo.load(tiny / "sentiment-lstm"), "a fine film")


def test_the_notes_loop_on_a_bundled_rnn_matches_within_1e_5():
    from webapp.examples import WHY_EXAMPLE  # the sentence docs/lessons.md quotes the difference on
    r = note.run(zoo.load("sentiment-rnn"), WHY_EXAMPLE)
    assert r["max_abs_diff"] < 1e-5 and r["numpy"].shape == (len(WHY_EXAMPLE.split()), 150)


def test_the_what_if_script_records_every_switchs_validation_score_in_the_config(tiny, tmp_path, capsys):
    import json
    import shutil
    from test_sentiment import make_texts, write_split
    from train.what_if import main
    data = tmp_path / "sst"
    for split, seed in (("train", 1), ("validation", 2)):
        write_split(data, split, *make_texts(40, seed))
    shutil.copytree(tiny / "sentiment-lstm", tmp_path / "ck")
    assert main([str(tmp_path / "ck"), "--data", str(data)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    recorded = zoo.load(tmp_path / "ck").config["what_if"]
    assert recorded == {k: line[k] for k in ("split", "metric", "scores")} and set(recorded["scores"]) == {"none", *cells.SWITCHES}
    from zoo import data as zoo_data
    validation = zoo_data.load(str(data))[0]["validation"]
    assert recorded["scores"]["none"] == zoo.load(tmp_path / "ck").evaluate(validation)["accuracy"]
    assert main([str(tmp_path / "ck"), "--data", str(tmp_path / "nowhere")]) == 2  # one error line, no traceback


def test_the_why_tabs_notes_hold_on_its_default_input_and_the_recorded_scores():
    from webapp.examples import WHY_EXAMPLE
    m = why.cell_magnitudes(zoo.load("sentiment-lstm"), WHY_EXAMPLE)  # the tab's default model and text
    assert max(m["c_max"]) > 1 and max(m["tanh_c_max"]) <= 1 and max(m["h_max"]) <= 1  # "|c_t| can grow past 1"
    # "added instead ... the cell state runs away", drawn in the chart's lower panel: "|c_t| grows with every word"
    added = m["c_max_add"]
    assert all(b > a for a, b in zip(added, added[1:])) and added[-1] > 3 * max(m["c_max"])  # measured: 46.9 vs 6.5
    recorded = [zoo.load(n).config["what_if"] for n in zoo.list_models() if "what_if" in zoo.load(n).config]
    assert len(recorded) >= 4
    for r in recorded:  # "added instead, it can only shift a value": every model collapses
        others = {k: v for k, v in r["scores"].items() if k not in ("add", "matrix")}
        assert r["scores"]["add"] <= r["scores"]["none"] - 20 and r["scores"]["add"] < min(others.values())
        # "as a matrix that is not diagonal, it mixes the units, so none can be opened or shut on its own"
        assert r["scores"]["matrix"] <= r["scores"]["none"] - 20 and r["scores"]["matrix"] < min(others.values())
