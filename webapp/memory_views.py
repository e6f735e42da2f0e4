"""The "Long-term memory" tab's event functions: the seed note's long-term dependency lesson, measured on the
trained models by zoo.memory (gradient profiles, forget-gate lifetimes, the distance probe).

Each takes plain values and returns figures (and a notice or a table); bad input raises gr.Error.
"""
from __future__ import annotations

import functools

import gradio as gr

from zoo import memory as mem
from zoo.encoder import ARCHS

from . import logic, models, plots
from .logic import _notice, clean_text, first_words, lang_of, unknown_words
from .texts import error, say

MAX_MEMORY_WORDS = 80   # long enough to see a memory fade; the validation bands are computed at this length
MODEL_SETS = logic.MODEL_SETS  # choice -> model name prefix
PROBE_SETS = ("imdb", "sst2")  # the distance probe asks for a verdict: the sentiment models
DISTANCES = (0, 10, 25, 50, 75, 100, 150, 200)  # words between the verdict and the end, in the chart


def _models(choice, lang: str, allowed=tuple(MODEL_SETS)) -> dict:
    if not isinstance(choice, str) or choice not in allowed:
        raise error("unknown_model", lang, name=choice, choices=", ".join(allowed))
    loaded = {arch: models.try_load(f"{MODEL_SETS[choice]}-{arch}") for arch in ARCHS}
    missing = [why for p, why in loaded.values() if p is None]
    if missing:
        raise error("missing", lang, why=missing[0])
    return {arch: p for arch, (p, _) in loaded.items()}


def _text(text, lang: str) -> tuple[str, list[str]]:
    text, notices = clean_text(text, lang)
    text, more = first_words(text, MAX_MEMORY_WORDS, lang, cut=bool(notices))
    return text, notices + more


def check(text, model_set="imdb", request: gr.Request | None = None) -> None:
    """The input checks of memory and lifetime, run once before the two (which then run side by side and
    check again, as API endpoints of their own): a bad text is one error, not the same one twice."""
    lang = lang_of(request)
    text, _ = _text(text, lang)
    if not next(iter(_models(model_set, lang).values())).words(text):
        raise error("no_words", lang)


def memory(text, model_set="imdb", request: gr.Request | None = None):
    """-> a figure of each model's gradient per word over its last word's (with the validation band where
    the checkpoint has one), and a notice."""
    lang = lang_of(request)
    text, notices = _text(text, lang)
    preds = _models(model_set, lang)
    ratios, bands, words = {}, {}, []
    for arch, pred in preds.items():
        try:
            g = mem.gradient_profile(pred, text)
        except ValueError:
            raise error("no_words", lang) from None
        ratios[arch], words = g["ratio"], g["words"]
        bands[arch] = pred.config.get("memory", {}).get("gradient")
    notices += unknown_words(next(iter(preds.values())), text, lang)  # mostly <unk>: the chart says little
    if len(words) == 1:  # one dot a chart: no distance to fade over, and the lifetime chart below says nothing either
        notices.append(say("one_word_memory", lang))
    task = next(iter(preds.values())).config.get("task", "sentiment")
    return plots.gradient_profiles(words, ratios, bands, lang, task), _notice(notices)


def lifetime(text, model_set="imdb", request: gr.Request | None = None):
    """-> a figure of how much of each word survives to the last one (forget-gate products for the LSTMs,
    the Jacobian product's norm for the vanilla RNN)."""
    lang = lang_of(request)
    text, _ = _text(text, lang)
    curves, words = {}, []
    for arch, pred in _models(model_set, lang).items():
        try:
            curves[arch] = mem.lifetime(pred, text)
        except ValueError:
            raise error("no_words", lang) from None
        words = curves[arch]["words"]
    return plots.lifetimes(words, curves, lang)


@functools.lru_cache(maxsize=len(PROBE_SETS))
def _probe(model_set: str) -> tuple[dict, dict]:
    """The probe does not depend on the user's input: run it once per model set and process."""
    preds = {f"{MODEL_SETS[model_set]}-{a}": p for a, p in _models(model_set, "en", PROBE_SETS).items()}
    return mem.distance_probe(preds, DISTANCES), mem.distance_probe(preds, DISTANCES, order="cue_last")



def distance(model_set="imdb", request: gr.Request | None = None):
    """-> the distance probe's chart (accuracy vs. words between the verdict and the end, cue first and cue
    last) and its table as markdown."""
    lang = lang_of(request)
    if not isinstance(model_set, str) or model_set not in PROBE_SETS:
        raise error("unknown_model", lang, name=model_set, choices=", ".join(PROBE_SETS))
    _models(model_set, lang, PROBE_SETS)  # a missing model is a message, not an exception in the cache
    first, last = _probe(model_set)
    head = f"| {say('model_col', lang)} | " + " | ".join(f"k={k}" for k in first["distances"]) + " |"  # accuracy, %
    rows = [head, "|---" * (len(first["distances"]) + 1) + "|"]
    for res, what in ((first, say("cue_first", lang)), (last, say("cue_last", lang))):
        rows += [f"| {name} ({what}) | " + " | ".join(f"{a:g}%" for a in accs) + " |"
                 for name, accs in res["accuracy"].items()]
    return plots.distance(first, last, lang), "\n".join(rows)
