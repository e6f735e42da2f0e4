"""Event functions for "why the cell is built as it is": what-if switches, the cell state's size, the NER
taggers word by word, inside a caption decoder, and the seed note's NumPy loop on real weights.

The computations are zoo.why, zoo.note, tasks.caption_trace and the NER predictor's tags_by_prefix; these
functions only check input, call them and format. Bad input raises gr.Error.
"""
from __future__ import annotations

import numpy as np
import gradio as gr
import torch

from tasks.caption_trace import trace_caption
from zoo import note, why
from zoo.cells import SWITCHES

from . import models, plots
from .inside_views import get_model, heatmaps, inspectable_models
from .logic import _notice, checked_direction, clean_text, first_words, lang_of, md_cell, metric_name, unknown_words
from .texts import SWITCHES_KO, bad_image, error, say

MAX_STEP_WORDS = 25  # right context: one row per prefix, so rows x words cells
MAX_SIZE_WORDS = 80  # the cell state's size, word by word
MAX_NOTE_WORDS = 12  # the note's loop prints a row per word


def gated_models() -> list[str]:
    """Text models with gates to switch: the LSTMs and BiLSTMs."""
    return [n for n in inspectable_models() if not n.endswith("-rnn")]


def _answer(result, lang: str) -> str:
    if "tokens" in result:  # NER: the entities found
        return ", ".join(f"{md_cell(e['text'])} ({e['type']})" for e in result["entities"]) or say("none_found", lang)
    return f"{say(result['label'], lang)} {result[result['label']]:.2f}"


def check(text, model_name, request: gr.Request | None = None) -> None:
    """The input checks of what_if and cell_size, run once before the two (which then run side by side and
    check again, as API endpoints of their own): a bad sentence is one error, not the same one twice."""
    lang = lang_of(request)
    text, _ = clean_text(text, lang)
    if model_name not in gated_models():
        raise error("unknown_model", lang, name=model_name, choices=", ".join(gated_models()) or "-")
    if not models.load(model_name).words(text):
        raise error("no_words", lang)


def what_if(text, model_name, request: gr.Request | None = None) -> str:
    """-> markdown: the model's answer on text with each switch, and its validation scores with each where
    the checkpoint records them (train/what_if.py)."""
    lang = lang_of(request)
    text, notices = clean_text(text, lang)
    if model_name not in gated_models():
        raise error("unknown_model", lang, name=model_name, choices=", ".join(gated_models()) or "-")
    pred = models.load(model_name)
    try:
        with torch.inference_mode():
            answers = why.what_if(pred, text)
    except ValueError:
        raise error("no_words", lang) from None
    notices += unknown_words(pred, text, lang)  # as the pattern tabs say: mostly <unk>, the answers say little
    recorded = pred.config.get("what_if", {})
    scores = recorded.get("scores", {})
    # the answers and scores before the formulas: on a phone the wide formula column pushed them out of sight
    head = f"| {say('switch', lang)} | {say('answer', lang)} |"
    if scores:
        head += f" {say('validation', lang)} {metric_name(recorded['metric'], lang)} |"
    rows = [head + f" {say('changes', lang)} |", "|---|---|---|" + ("---|" if scores else "")]
    for key, answer in answers.items():
        what = (SWITCHES_KO if lang == "ko" else SWITCHES).get(key, say("real_cell", lang))
        score = (f" {scores[key]:.2f} |" if key in scores else " – |") if scores else ""
        rows.append(f"| `{key}` | {_answer(answer, lang)} |{score} {what} |")
    # the notices above the table, where they are read before the answers, as the pattern tabs show theirs
    return (_notice(notices) + "\n\n" if notices else "") + "\n".join(rows)


def cell_size(text, model_name, request: gr.Request | None = None):
    """-> a figure: |c_t| (max and mean over units) beside max |tanh(c_t)| and max |h_t| per word, and a notice
    where the text was cut (to MAX_SIZE_WORDS words). A text cut to its characters too says only its words here:
    the what-if table above, run on the same text, says the characters."""
    lang = lang_of(request)
    text, notices = clean_text(text, lang)
    if model_name not in gated_models():
        raise error("unknown_model", lang, name=model_name, choices=", ".join(gated_models()) or "-")
    text, more = first_words(text, MAX_SIZE_WORDS, lang, cut=bool(notices), model=model_name)
    try:
        return (plots.cell_size(why.cell_magnitudes(models.load(model_name), text), model_name, lang),
                _notice(more or notices))
    except ValueError:
        raise error("no_words", lang) from None


def changed_words(rows: list[list[str]]) -> int:
    """tags_by_prefix's rows -> how many words had their tag changed after they were read (a word whose tag is
    in brackets in five rows before it changed once is one word)."""
    return sum(any(rows[k][i] != rows[k - 1][i] for k in range(i + 1, len(rows))) for i in range(len(rows)))


def right_context(text, request: gr.Request | None = None) -> str:
    """-> markdown: for ner-lstm and ner-bilstm, the tags after each word is revealed; a tag that differs
    from the whole sentence's answer is in brackets (it changed when later words arrived)."""
    lang = lang_of(request)
    text, notices = clean_text(text, lang)
    text, more = first_words(text, MAX_STEP_WORDS, lang, cut=bool(notices), model="ner-bilstm")
    notices, out, told = notices + more, [], False
    for name in ("ner-lstm", "ner-bilstm"):
        pred, why_not = models.try_load(name)
        if pred is None:
            out.append(f"**{name}**: {say('missing', lang, why=why_not)}")
            continue
        words, rows = pred.tags_by_prefix(text)
        if not words:
            raise error("no_words", lang)
        if not told:  # once, from the first tagger that loaded: the two read the same words (one vocabulary recipe)
            notices, told = notices + unknown_words(pred, text, lang), True
        final = rows[-1]
        flips = changed_words(rows)
        shown = [md_cell(w) for w in words]
        table = [f"| {say('word_read', lang)} | " + " | ".join(shown) + " |", "|---" * (len(words) + 1) + "|"]
        for k, row in enumerate(rows):
            # in brackets, not struck through: a struck-through "O" reads as a theta
            cells = [(f"({t})" if t != final[i] else t) for i, t in enumerate(row)] + [""] * (len(words) - k - 1)
            table.append(f"| {shown[k]} | " + " | ".join(cells) + " |")
        out.append(f"**{name}** · {say('flips', lang, n=flips)}\n\n" + "\n".join(table))
    # the notices first, above the tables (which can be wider than the page), as the pattern tabs show theirs
    return "\n\n".join(([_notice(notices)] if notices else []) + out)


CAPTION_MODELS = ("caption-rnn", "caption-lstm", "caption-bilstm")


def inside_caption(image, model_name, direction="forward", request: gr.Request | None = None):
    """-> six heatmaps of the decoder writing its caption (one column per generated word), and the caption."""
    lang = lang_of(request)
    if image is None or (isinstance(image, str) and not image.strip()):
        raise error("no_image", lang)
    if model_name not in CAPTION_MODELS:
        raise error("unknown_model", lang, name=model_name, choices=", ".join(CAPTION_MODELS))
    direction = checked_direction(direction, lang)
    pred, why_not = models.try_load(model_name)
    if pred is None:
        raise error("missing", lang, why=why_not)
    try:
        tr = trace_caption(pred, image)
    except (ValueError, TypeError, OSError) as e:
        raise bad_image(str(e), lang) from None
    notes = [say("decoder_beam", lang, beam=pred.decode_cfg["beam"])]
    def where(d):  # the backward decoder's columns are in its writing order, the caption's last word first
        return say("backward_writes", lang) if d == "backward" else f"{say(d, lang)} {say('decoder', lang)}"
    figs = heatmaps(tr["decoders"], direction, None, model_name, lang, notes, where)
    return (*figs, f"**{tr['caption']}**\n\n" + "\n\n".join(notes))


def note_loop(text, model_name="sentiment-rnn", request: gr.Request | None = None) -> str:
    """-> markdown: the seed note's NumPy loop run on a zoo RNN's weights and word vectors, beside the model."""
    lang = lang_of(request)
    text, notices = clean_text(text, lang)
    rnns = [n for n in inspectable_models() if n.endswith("-rnn")]
    if model_name not in rnns:
        raise error("unknown_model", lang, name=model_name, choices=", ".join(rnns) or "-")
    text, more = first_words(text, MAX_NOTE_WORDS, lang, cut=bool(notices))
    try:
        r = note.run(get_model(model_name, lang), text)
    except ValueError:
        raise error("no_words", lang) from None
    s = r["shapes"]
    units = min(4, r["numpy"].shape[1])
    rows = [f"| {say('word', lang)} | NumPy h[:{units}] | torch h[:{units}] |", "|---|---|---|"]
    fmt = lambda a: np.array2string(a[:units], precision=4, suppress_small=True, separator=", ")
    rows += [f"| {md_cell(w)} | `{fmt(a)}` | `{fmt(b)}` |" for w, a, b in zip(r["words"], r["numpy"], r["torch"])]
    return "\n".join([
        f"```python\n{note.NOTE_CODE}\n```",
        f"`inputs` {s['inputs']} ({say('word_vectors', lang, model=model_name)}) · `Wx` {s['Wx']} · `Wh` {s['Wh']} · `b` {s['b']} "
        f"(= `bias_ih + bias_hh`) · `hidden_state` {s['hidden_state']}", "", *rows, "",
        say("note_match", lang, diff=r["max_abs_diff"])] + (["", _notice(notices + more)] if notices + more else []))
