"""The app's markdown tables and Korean page: a user's words are literal text in a table cell (a | does not
split a cell), every string the Korean page shows in the what-if table is Korean, a text with no words is
the same message in every view, and /shapes checks raw values itself. Tiny untrained checkpoints
(tests/app_models.py) stand in for the zoo."""
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # webapp/ lives at the repo root

from test_app import tiny_models  # noqa: E402,F401  (autouse: tiny checkpoints for this module too)
from webapp import memory_views, models, why_views  # noqa: E402
from webapp.shapes import shapes  # noqa: E402
from webapp.texts import SWITCHES_KO  # noqa: E402
from zoo.cells import SWITCHES  # noqa: E402

KOREAN = SimpleNamespace(headers={"accept-language": "ko-KR,ko;q=0.9"})


def _cells(row: str) -> int:
    """The cells of a markdown table row: split at | not escaped by a backslash."""
    return len(re.split(r"(?<!\\)\|", row.strip().strip("|")))


def _tables(md: str) -> list[list[str]]:
    blocks, rows = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            blocks.append(rows)
            rows = []
    return blocks


@pytest.mark.parametrize("view", [lambda t: why_views.right_context(t),
                                  lambda t: why_views.note_loop(t, "sentiment-rnn"),
                                  lambda t: why_views.what_if(t, "ner-lstm")])
def test_a_users_pipes_and_stars_stay_inside_their_table_cells(view):
    md = view("Peter | Paul *met* _EU_ `x` in Paris")
    tables = _tables(md)
    assert tables
    for table in tables:
        assert len({_cells(row) for row in table}) == 1, table  # every row as wide as the header
    assert "*met*" not in md.replace("\\*met\\*", "")


def test_the_korean_what_if_table_says_every_switch_and_answer_in_korean():
    assert set(SWITCHES_KO) == set(SWITCHES)
    md = why_views.what_if("a witty movie", "sentiment-lstm", KOREAN)
    for key, text in SWITCHES_KO.items():
        assert text in md and SWITCHES[key] not in md
    assert "positive" not in md and "negative" not in md and ("긍정" in md or "부정" in md)


def test_the_korean_page_names_its_columns_in_korean():
    assert "| 단어 |" in why_views.note_loop("a witty movie", "sentiment-rnn", KOREAN)
    _, table = memory_views.distance("sst2", KOREAN)
    assert table.startswith("| 모델 |")


def test_the_distance_tables_accuracies_are_shown_as_measured_not_rounded_to_whole_percents(monkeypatch):
    """Each is a count of 40 verdicts, a multiple of 2.5%: 92.5 read "92%" (and 97.5 "98%") beside the docs' 92.5."""
    measured = {"distances": [0, 25], "accuracy": {"sentiment-lstm": [92.5, 97.5]}}
    monkeypatch.setattr(memory_views, "_probe", lambda model_set: (measured, measured))
    monkeypatch.setattr(memory_views.plots, "distance", lambda *a: None)
    _, table = memory_views.distance("sst2")
    assert "| 92.5% | 97.5% |" in table, table


def test_a_text_with_no_words_is_the_same_message_for_a_tagger_as_for_the_rest():
    for name in ("ner-lstm", "sentiment-lstm"):
        with pytest.raises(gr.Error, match="no words"):
            why_views.what_if("\u200b\u0000", name)


@pytest.mark.parametrize("args, match", [((2, 10, 3, "rnn", "false", False), "Bidirectional must be true or false"),
                                         ((2, 10, 3, "rnn", False, 1), "Return sequences must be true or false"),
                                         (("2", 10, 3, "rnn", False, False), "Timesteps must be a whole number"),
                                         ((float("inf"), 10, 3, "rnn", False, False), "Timesteps must be a whole number"),
                                         ((2, float("nan"), 3, "rnn", False, False), "Input size must be a whole number"),
                                         ((2, 10, 1e309, "rnn", False, False), "Hidden size \\(units\\) must be a whole number"),
                                         ((2, 10, 3, "gru", False, False), "cell must be 'rnn' or 'lstm'"),
                                         ((2, 10, 3, 7, False, False), "cell must be 'rnn' or 'lstm'")])
def test_shapes_refuses_raw_values_of_the_wrong_type_with_its_own_message(args, match):
    with pytest.raises(gr.Error, match=match):
        shapes(*args)
    assert "**42**" in shapes(2, 10, 3, "RNN", False, False)  # the page's own values still work


def test_layer_shapes_takes_numpy_whole_numbers_as_the_app_and_api_send_them():
    import numpy as np
    from zoo import probe
    r = probe.layer_shapes("lstm", 2, np.int64(10), np.int64(3))
    assert r["torch_params"] == 4 * (10 * 3 + 3 * 3 + 2 * 3)


def test_the_note_loops_notices_are_paragraphs_of_their_own_not_glued_to_the_sentence_before():
    md = why_views.note_loop("x " * 3000, "sentiment-rnn")
    lines = md.splitlines()
    notices = [i for i, line in enumerate(lines) if line.startswith("⚠️")]
    assert len(notices) == 2, md[-400:]  # the characters cut, then the words shown
    assert all(lines[i - 1] == "" for i in notices)
