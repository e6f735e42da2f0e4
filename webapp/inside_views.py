"""The inside tab's event functions: which models can be traced, the six heatmaps of one direction's trace
(h, c, i, f, g, o; shared with the decoder view, webapp.why_views), which rows show, and the model that
follows a text copied in from a pattern tab. Callable without a server, as webapp.logic's."""
from __future__ import annotations

import gradio as gr

from zoo import probe

from . import models, plots
from .logic import SENTIMENT_MODELS, _notice, checked_direction, clean_text, first_words, lang_of, unknown_words
from .texts import RNN_ONLY, error, say

MAX_TRACE_WORDS = 40    # inside the cell: more columns than this make unreadable heatmaps
TRACE_PARTS = ("h", "c", "i", "f", "g", "o")
KINDS = {"h": "tanh", "c": "free", "i": "gate", "f": "gate", "g": "tanh", "o": "gate"}  # each part's colour scale


def inspectable_models() -> list[str]:
    """Models whose cells can be traced: every loadable text model (the IMDB ones too: a review copied from
    the sentiment tab can be traced by the models that read it there)."""
    return [n for task in ("sentiment", "imdb", "ner") for n in models.available(task)]


def get_model(name, lang: str):
    choices = inspectable_models()
    if not isinstance(name, str) or name not in choices:
        raise error("unknown_model", lang, name=name, choices=", ".join(choices) or "-")
    return models.load(name)


def inside(text, model_name, direction="forward", request: gr.Request | None = None):
    """-> six heatmaps (h, c, i, f, g, o; None where a vanilla RNN has no such part) and a notice."""
    lang = lang_of(request)
    text, notices = clean_text(text, lang)
    pred = get_model(model_name, lang)
    direction = checked_direction(direction, lang)
    text, more = first_words(text, MAX_TRACE_WORDS, lang, cut=bool(notices), model=model_name)
    try:
        tr = probe.trace_text(pred, text)
    except ValueError:
        raise error("no_words", lang) from None
    bilstm = tr["arch"] == "bilstm"
    figs = heatmaps(tr["directions"], direction, tr["words"], model_name, lang, notices,
                    lambda d: say('backward_reads' if d == 'backward' else d, lang) if bilstm else "")
    # what a sentiment model concluded, so a trace of "not bad at all" is read beside its verdict
    answer = "" if pred.config.get("task") != "sentiment" else say("inside_answer", lang, name=model_name, **_verdict(
        pred.predict(text), lang))
    # as the pattern tabs say it: a trace of mostly <unk> is one word's vector over and over
    warnings = _notice(notices + more + unknown_words(pred, text, lang))
    return (*figs, "\n\n".join(part for part in (answer, warnings) if part))


def _verdict(answer: dict, lang: str) -> dict:
    return {"label": say(answer["label"], lang), "p": answer[answer["label"]]}


def gate_rows(model_name) -> list:
    """Visibility of the six heatmaps (h, c, i, f, g, o), once a trace is drawn: hidden before the first one
    (six empty frames), h then shown, and the rest too unless a vanilla RNN drew it: it has no cell state and
    no gates, so their rows stay hidden rather than empty boxes (its note says why). The checkpoint's own arch
    decides, not its folder's name (SEQZOO_MODELS_DIR may hold any names)."""
    pred = models.try_load(model_name)[0] if isinstance(model_name, str) else None
    gated = pred is None or pred.config.get("arch") != "rnn"
    return [gr.update(visible=True)] + [gr.update(visible=gated) for _ in TRACE_PARTS[1:]]


def heatmaps(traces: dict, direction: str, words, model_name: str, lang: str, notices: list, where) -> list:
    """The six heatmaps of one direction's trace (h, c, i, f, g, o; None where a vanilla RNN has no such part),
    for the inside tab and the decoder view. A one-way model asked for "backward" shows forward, and notices
    says so; a vanilla RNN's note is added too. where(direction): the title's second line ("" for none), under the
    part and the model's name (one line ran off a phone's screen)."""
    if direction not in traces:
        notices.append(say("one_direction", lang, name=model_name))
        direction = "forward"
    parts = traces[direction]
    words = parts.get("words", words)  # a decoder's trace carries the words it wrote
    second = where(direction)
    suffix = f" — {model_name}" + (f"\n{second}" if second else "")
    if "c" not in parts:
        notices.append(RNN_ONLY[1] if lang == "ko" else RNN_ONLY[0])
    return [plots.heatmap(parts[k], words, say(f"title_{k}", lang) + suffix, KINDS[k], say("unit", lang))
            if k in parts else None for k in TRACE_PARTS]


def hide_trace():
    """A trace emptied (the inside tab's notice or the decoder view's caption) and its heatmaps hidden: its text,
    photo, model or direction changed, and the old heatmaps read as the new input's."""
    return ["", *[gr.update(visible=False)] * len(TRACE_PARTS)]


def two_way(name):
    """The direction choice only means something for a BiLSTM: the other models read one way."""
    two = isinstance(name, str) and name.endswith("bilstm")
    return gr.update(interactive=two) if two else gr.update(interactive=False, value="forward")


def follow(text, prefix: str, current):
    """A pattern tab's text copied into the inside box, with the model that reads it there: the pattern's model of
    the chosen one's kind (vanilla RNN, LSTM, BiLSTM), so a movie review is not traced by the tagger left chosen.
    The choice stays where that model is not loaded."""
    arch = current.rsplit("-", 1)[-1] if isinstance(current, str) else "lstm"
    name = f"{prefix}-{arch}"
    return text, (name if name in inspectable_models() else gr.update())


def follow_sentiment(text, data, current):
    """follow for the sentiment tab: data is its radio's choice of models, SST-2 or IMDB."""
    return follow(text, SENTIMENT_MODELS.get(data, "sentiment") if isinstance(data, str) else "sentiment", current)


def follow_ner(text, current):
    return follow(text, "ner", current)
