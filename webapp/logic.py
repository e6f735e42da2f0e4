"""The app's event functions, importable and callable without a server (tests call them directly).

Each takes plain values (plus the gradio request, for the browser language) and returns plain values
or figures. Bad input raises gr.Error with a readable message: gradio shows it as a notice in the page
and returns it as the error of an API call, and no traceback ever reaches the user.
"""
from __future__ import annotations

import re
import time
from collections import Counter
import unicodedata

import gradio as gr
import numpy as np
import torch

from tasks.sentiment_data import words as sentiment_words
from tasks.text import tokenize
from zoo.embedding import PAD_ID, UNK_ID
from zoo.encoder import ARCH_NAMES

from . import models, plots
from .texts import SET_LABELS, UI, error, say

MAX_CHARS = 1000        # sentiment / NER tabs: longer text is cut, with a notice
MAX_REVIEW_CHARS = 3000  # the IMDB models read up to 400 words: a long review fits
SST2_LONGEST = 55  # words in SST-2's longest training sentence, as the models split it (tests/test_app_claims.py)
MAX_SHOWN_UNKNOWN = 5   # words named in the notice that most of a text is outside the vocabulary
MAX_CARD_ENTITIES = 12  # different entities named in a NER card; the highlighted text shows every one


def lang_of(request: gr.Request | None) -> str:
    """'ko' when the browser asks for Korean first, else 'en'."""
    headers = getattr(request, "headers", None) or {}
    first = (headers.get("accept-language") or "").split(",")[0].strip().lower()
    return "ko" if first.startswith("ko") else "en"


def clean_text(text, lang: str = "en", limit: int = MAX_CHARS) -> tuple[str, list[str]]:
    """-> (text to use, notices). Raises gr.Error for a non-string or a text without visible characters (or None)."""
    if text is not None and not isinstance(text, str):  # an API call's 42 or ["Peter"] (see webapp.queue.RAW)
        raise error("not_text", lang, kind=type(text).__name__)
    if not text or not text.strip():
        raise error("empty", lang)
    notices = []
    if len(text) > limit:
        cut = text[:limit]
        space = cut.rfind(" ")
        text = cut[:space] if space > limit // 2 else cut  # end on a word boundary where there is one
        notices.append(say("truncated", lang, limit=limit))
    return text.strip(), notices


def first_words(text: str, limit: int, lang: str, cut: bool = False, model: str | None = None) -> tuple[str, list[str]]:
    """Cut text after its first `limit` words, as the model reads them (tasks.text.tokenize; a tagger's split for
    a NER model). cut: the text was already cut to clean_text's length, so its word count is not the user's and
    the notice does not give one."""
    pred = models.try_load(model)[0] if isinstance(model, str) else None
    toks = tokenize(text, conll=pred is not None and pred.config.get("task") == "ner")
    if len(toks) <= limit:
        return text, []
    notice = say("tok_truncated_cut", lang, limit=limit) if cut else say("tok_truncated", lang, limit=limit, n=len(toks))
    return text[:toks[limit - 1][2]], [notice]


def checked_direction(direction, lang: str) -> str:
    """The direction radio's value: 'forward' or 'backward' (an API caller's "sideways", 1 or None refused)."""
    if direction not in ("forward", "backward"):
        raise error("bad_direction", lang, value=direction)
    return direction


def metric_name(metric: str, lang: str) -> str:
    """A checkpoint's metric ("accuracy", "f1", "bleu4") in the page's language (정확도 in Korean)."""
    return say(metric, lang) if metric in ("accuracy", "f1", "bleu4") else metric


def _metric_line(card: dict, lang: str, ms: float) -> str:
    metric = metric_name(card["metric"], lang)
    test = f"{say('test', lang)} {metric} {card['test']:.1f}" if card["test"] is not None else f"{say('test', lang)} –"
    data = f" ({str(card['data']).rstrip('/').split('/')[-1]})" if card["data"] else ""
    return f"{say('time', lang)} {ms:.1f} ms · {say('params_n', lang, n=card['params'])} · {test}{data}"


def _header(arch: str, name: str, lang: str = "en") -> str:
    return f"**{arch_name(arch, lang)}** · `{name}`"


def arch_name(arch: str, lang: str = "en") -> str:
    """The architecture's name as the page's column labels give it (바닐라 RNN in Korean)."""
    return UI["ko"].get(arch, ARCH_NAMES[arch]) if lang == "ko" else ARCH_NAMES[arch]


MARKDOWN_SPECIAL = str.maketrans({ch: "\\" + ch for ch in "\\|*_~`[]<>#"})


def md_cell(text: str) -> str:
    """A user's word as literal text in a markdown table cell: a | would end the cell, * or _ start emphasis."""
    return str(text).translate(MARKDOWN_SPECIAL)


def _notice(notices: list[str]) -> str:
    return "\n\n".join(f"⚠️ {n}" for n in notices)


MODEL_SETS = {"sst2": "sentiment", "imdb": "imdb", "ner": "ner"}  # a tab's choice of models -> their name prefix
SENTIMENT_MODELS = {k: MODEL_SETS[k] for k in ("sst2", "imdb")}
SENTIMENT_DATA = [(SET_LABELS[k], k) for k in SENTIMENT_MODELS]


def sentiment(text, data="sst2", request: gr.Request | None = None):
    """-> for rnn, lstm, bilstm: (label dict | None, card markdown); then the by-step table and a notice.
    data: "sst2" (the models trained on short sentences) or "imdb" (on long reviews)."""
    lang = lang_of(request)
    if not isinstance(data, str) or data not in SENTIMENT_MODELS:
        raise error("unknown_model", lang, name=data, choices=", ".join(SENTIMENT_MODELS))
    text, notices = clean_text(text, lang, MAX_REVIEW_CHARS if data == "imdb" else MAX_CHARS)
    prefix = SENTIMENT_MODELS[data]
    out, curves = [], {}
    loaded = models.for_task(prefix)
    if not any(p for p, _ in loaded.values()):
        why = next(iter(loaded.values()))[1]
        raise error("no_models", lang, task=say("task_sentiment", lang), why=why)
    for arch, (pred, why) in loaded.items():
        name = f"{prefix}-{arch}"
        if pred is None:
            out += [None, f"{_header(arch, name, lang)}\n\n{say('missing', lang, why=why)}"]
            continue
        t0 = time.perf_counter()
        try:
            with torch.inference_mode():  # cheaper than the predictor's no_grad: no version counters
                curves[arch] = curve = pred.prob_positive_by_step(text)
                if not curve:
                    raise ValueError("no words")
                # a one-way model's curve ends at its prediction (tasks.sentiment.SentimentModel.
                # prob_positive_by_step), so one pass gives both; the BiLSTM's curve is its forward half only
                one_way = pred.config["arch"] != "bilstm"
                answer = {"positive": curve[-1], "negative": 1 - curve[-1]} if one_way else pred.predict(text)
                probs = {k: answer[k] for k in ("positive", "negative")}  # the chart's two bars (not its "label")
        except ValueError:  # only punctuation the tokenizer drops, etc.
            raise error("no_words", lang) from None
        ms = 1000 * (time.perf_counter() - t0)
        best = max(probs, key=probs.get)
        label = {say(k, lang): v for k, v in probs.items()}
        out += [label, f"{_header(arch, name, lang)}\n\n{say('prediction', lang)}: **{say(best, lang)}** · "
                       f"{say('confidence', lang)} {probs[best]:.2f}\n\n{_metric_line(models.card(pred), lang, ms)}"]
    # one value per word read; a model with a max_len reads fewer words, and its line stops there
    # the three models of a set read the same words (one vocabulary recipe, one max_len)
    first = next(p for p, _ in loaded.values() if p is not None)
    words = first.words(text) if curves else []
    read_limit = max(p.config.get("max_len") or 0 for p, _ in loaded.values() if p is not None)
    if read_limit and curves and len(words) >= read_limit:
        total = len(sentiment_words(text))  # every word of the text, as the models split it
        if total > read_limit:  # a text clean_text cut already has more words than it counts now
            notices.append(say("max_len_cut_cut", lang, limit=read_limit) if notices else
                           say("max_len_cut", lang, limit=read_limit, n=total))
    if curves:
        notices += unknown_words(first, text, lang)
    if data == "sst2" and len(words) > SST2_LONGEST:  # a review for the models of sentences: say which read it
        notices.append(say("long_for_sst2", lang, n=len(words), most=SST2_LONGEST))
    if len(words) == 1:
        notices.append(say("one_word", lang))
    return (*out, *by_step_charts(words, curves, lang), _notice(notices))


def unknown_words(pred, text: str, lang: str) -> list[str]:
    """A notice when at least half the words read are unknown (Korean, emoji): each reads as the one <unk> word,
    so the answer says little. Fewer get a milder one where one has a letter of a script not Latin ("재미없었다" in
    English may be the verdict); a rare English word, "naïve" or typed punctuation (’ “ —) gets none. A tagger's
    word is unknown only when its characters are too ("Kishida" it can tag; "서울" not). A tab's models share
    one vocabulary recipe: one predictor's count stands for the three."""
    try:
        words, batch = pred.encode(text)
    except ValueError:  # no words: the tab's own error says so
        return []
    unknown = np.asarray(batch["words"])[0][:len(words)] == UNK_ID
    if "chars" in batch:  # (1, T, L) character ids
        unknown &= np.isin(np.asarray(batch["chars"])[0][:len(words)], (PAD_ID, UNK_ID)).all(axis=-1)
    named = [w for w, u in zip(words, unknown) if u]
    most = 2 * len(named) >= len(words)
    if not most and not any(c.isalpha() and not unicodedata.name(c, "").startswith("LATIN") for w in named for c in w):
        return []
    counts = Counter(named)  # "3 of 5 (😍 ×2, 👍)": the count adds up; first-seen order kept
    distinct = list(counts)
    shown = [md_cell(plots.short_word(w)) + (f" ×{counts[w]}" if counts[w] > 1 else "") for w in distinct[:MAX_SHOWN_UNKNOWN]]
    more = ", …" if len(distinct) > MAX_SHOWN_UNKNOWN else ""  # the count says how many; the list says it is cut
    return [say("unknown_words" if most else "some_unknown_words", lang, n=len(named), total=len(words),
                words=", ".join(shown) + more)]


def by_step_charts(words: list[str], curves: dict[str, list[float]], lang: str = "en") -> tuple[dict, dict]:
    """Updates of the sentiment tab's two by-step charts, words on x and word numbers on x (plots.by_step):
    the one that fits the text is shown with the table, the other hidden and emptied."""
    # one word is one point, which a line chart draws as nothing: no chart then (sentiment says why)
    table = plots.by_step(words, curves, lang) if curves and len(words) > 1 else None
    numbers = table is not None and plots.BY_STEP_N in table.columns
    # the titles as plain text in the page's language with every update: a chart gradio had hidden drew its
    # gr.I18n titles as raw "__i18n__{...}" once shown again (gradio 6.31)
    said = UI.get(lang, UI["en"])
    titles = dict(label=said["by_step"], y_title=said["by_step_y"], color_title=said["by_step_model"])
    return (gr.update(value=None if numbers else table, visible=table is not None and not numbers,
                      x_title=said["by_step_x"], **titles),
            gr.update(value=table if numbers else None, visible=numbers, x_title=said["by_step_n"], **titles))


def _tag_confidence(tokens: list[dict]) -> float:
    """Mean over words of the highest tag probability (predict's per-word scores, a softmax of the emission
    scores). The CRF decides the tag sequence jointly, so this is a per-word view of how sure the tagger
    is, not the CRF's own score."""
    return sum(max(t["scores"].values()) for t in tokens) / len(tokens)


def ner(text, request: gr.Request | None = None):
    """-> for rnn, lstm, bilstm: (highlighted text value | None, card markdown); then a notice."""
    lang = lang_of(request)
    text, notices = clean_text(text, lang)
    loaded = models.for_task("ner")
    if not any(p for p, _ in loaded.values()):
        raise error("no_models", lang, task=say("task_ner", lang), why=next(iter(loaded.values()))[1])
    out = []
    for arch, (pred, why) in loaded.items():
        name = f"ner-{arch}"
        if pred is None:
            out += [None, f"{_header(arch, name, lang)}\n\n{say('missing', lang, why=why)}"]
            continue
        t0 = time.perf_counter()
        with torch.inference_mode():
            result = pred.predict(text, scores=True)
        ms = 1000 * (time.perf_counter() - t0)
        if not result["tokens"]:
            raise error("no_words", lang)
        ents = result["entities"]
        # the entities as typed (md_cell: "_Berlin_" is not italics), each once: a text repeating a name
        # does not repeat it in the card, which lists at most MAX_CARD_ENTITIES
        unique = list(dict.fromkeys(f"{md_cell(e['text'])} ({e['type']})" for e in ents))
        found = ", ".join(unique[:MAX_CARD_ENTITIES]) or say("none_found", lang)
        if len(unique) > MAX_CARD_ENTITIES:
            found += say("more_entities", lang, n=len(unique) - MAX_CARD_ENTITIES)
        value = {"text": text, "entities": [{"entity": e["type"], "start": e["start"], "end": e["end"]} for e in ents]}
        out += [value, f"{_header(arch, name, lang)}\n\n{say('entities', lang)}: **{found}** · "
                       f"{say('confidence', lang)} {_tag_confidence(result['tokens']):.2f}\n\n"
                       f"{_metric_line(models.card(pred), lang, ms)}"]
    first = next(p for p, _ in loaded.values() if p is not None)
    return (*out, _notice(notices + unknown_words(first, text, lang) + glued_particles(first, text, lang)))


# a word in Latin letters, capitalised (a name: "Samsung", "Jae-yong"; "x가" is not one), with a Korean particle glued on
PARTICLES = "은|는|이|가|을|를|에|에서|에게|의|와|과|도|로|으로|이다|께서|부터|까지|처럼|보다|만"
GLUED = re.compile(rf"[A-Z][A-Za-z.'-]*?(?:{PARTICLES})")


def glued_particles(pred, text: str, lang: str) -> list[str]:
    """A notice naming the words, as the tagger splits them (a comma or a full stop after one is a word of its
    own), that are a capitalised Latin word with a Korean particle glued on (a Korean student's "Samsung은 Seoul에"):
    the taggers read each as one word, name and particle together (the notice of unknown words does not name
    them: their Latin letters are known)."""
    try:
        words = pred.words(text)
    except ValueError:  # no words: the tab's own error says so
        return []
    glued = list(dict.fromkeys(w for w in words if GLUED.fullmatch(w)))
    if not glued:
        return []
    shown = ", ".join(md_cell(plots.short_word(w)) for w in glued[:MAX_SHOWN_UNKNOWN]) + (", …" if len(glued) > MAX_SHOWN_UNKNOWN else "")
    return [say("glued_particle", lang, words=shown)]
