"""Long-term memory, measured on trained models: the seed note's lesson that a vanilla RNN's memory fades
while the LSTM's cell state keeps it, as numbers that a chart can show and a test can check.

    from zoo import memory
    models = {n: zoo.load(n) for n in ("imdb-rnn", "imdb-lstm", "imdb-bilstm")}
    memory.distance_probe(models)                    # accuracy vs. words between a clear cue and the verdict
    memory.gradient_profile(models["imdb-lstm"], text)   # each word's gradient over the last word's
    memory.lifetime(models["imdb-lstm"], text)           # per word: how much of it is still in the final state

Everything goes through the text predictors' interface (encode, predict_batch) and the readable cells
(zoo.probe, zoo.cells): nothing here knows a task's internals or needs gradio. The probe's sentences are
this file's own, hand-written: clear verdicts about a film, and neutral, factual filler.
"""
from __future__ import annotations

import math

import torch

from . import probe

DISTANCES = (0, 25, 50, 100, 150)

# Clear verdicts (the cue), one label each. Short, plain, no negation tricks: any reader gets them right.
CUES = {
    "positive": [
        "This film is wonderful , moving and beautifully acted .",
        "A brilliant movie , I loved every minute of it .",
        "The acting is superb and the story is touching .",
        "An excellent film with a great cast and a clever script .",
        "I really enjoyed this movie ; it is funny and warm .",
        "A beautiful , charming film that I will watch again .",
        "One of the best films I have seen , simply great .",
        "A delightful movie , smart , witty and full of heart .",
        "The performances are outstanding and the ending is perfect .",
        "What a fantastic film ; I recommend it to everyone .",
        "A gripping , powerful story , wonderfully told .",
        "This is a lovely film , sweet and very entertaining .",
        "Great direction , great music , a truly great movie .",
        "I loved this film ; the cast is brilliant .",
        "A masterpiece : moving , beautiful and unforgettable .",
        "An enjoyable , uplifting film with terrific acting .",
        "The movie is excellent and the actors are wonderful .",
        "A smart and funny film , a real pleasure to watch .",
        "Highly recommended : a superb , heartfelt movie .",
        "This movie is amazing , the best of the year .",
    ],
    "negative": [
        "This film is dull , clumsy and badly acted .",
        "A terrible movie , I hated every minute of it .",
        "The acting is awful and the story is stupid .",
        "A boring film with a weak cast and a lazy script .",
        "I really disliked this movie ; it is tedious and cold .",
        "An ugly , pointless film that I will never watch again .",
        "One of the worst films I have seen , simply awful .",
        "A dreadful movie , silly , dull and without heart .",
        "The performances are wooden and the ending is a mess .",
        "What a horrible film ; avoid it at all costs .",
        "A tedious , lifeless story , poorly told .",
        "This is a bad film , boring and very annoying .",
        "Poor direction , poor music , a truly bad movie .",
        "I hated this film ; the cast is terrible .",
        "A disaster : boring , ugly and forgettable .",
        "A depressing , unpleasant film with awful acting .",
        "The movie is terrible and the actors are wooden .",
        "A stupid and unfunny film , a waste of time .",
        "Avoid it : a dull , empty movie .",
        "This movie is awful , the worst of the year .",
    ],
}
# Neutral, factual sentences: what the film is about and how it was made, with no verdict in them.
FILLER = (
    "The film was shot in the spring of that year . The crew worked in three cities and two small towns . "
    "Most scenes take place in an apartment on the fourth floor of an old building . The story follows a "
    "teacher who moves to a new school in the north . She lives with her brother and his two children . "
    "The school has six classrooms , a library and a small garden . In the second part she meets a "
    "journalist who writes for a local newspaper . The two of them travel by train to the capital . The "
    "trip takes nine hours and they change trains twice . The film is in color and runs for one hundred "
    "and ten minutes . It was released in four countries in the autumn . The music was recorded in a "
    "studio near the river . The director studied painting before she started to make films . The main "
    "actor was born in a village near the coast . The production used two cameras and a crane . Some "
    "scenes were filmed at night in a train station . The costumes follow the fashion of the period . "
    "The script went through three drafts . A second unit filmed the landscapes from a boat . The "
    "dialogue is in English and in French , with subtitles . The house in the film belongs to a family "
    "that lives in the area . The winter scenes were shot in the mountains in January . The film has "
    "four chapters , each named after a month of the year ."
)


def _sentence_starts() -> list[int]:
    words = FILLER.split()
    return [0] + [i + 1 for i, w in enumerate(words[:-1]) if w == "."]


def filler(k: int, start: int = 0) -> str:
    """k words of the filler, from the beginning of its `start`-th sentence on (wrapping around)."""
    words = FILLER.split()
    first = _sentence_starts()[start % len(_sentence_starts())]
    return " ".join(words[(first + i) % len(words)] for i in range(k))


def probe_texts(k: int, order: str = "cue_first", cues: dict[str, list[str]] = CUES) -> list[tuple[str, str]]:
    """(text, label) pairs: each cue with k filler words after it ("cue_first": the memory test) or before
    it ("cue_last": the control, where the verdict is the last thing read). A classifier calls even neutral
    sentences one way or the other, so the j-th cue of every label gets the filler from its j-th sentence
    on: each stretch of filler is paired with a positive and a negative cue, and a model that reads only the
    filler scores 50% rather than what one stretch happens to suggest."""
    if order not in ("cue_first", "cue_last"):
        raise ValueError(f"order must be 'cue_first' or 'cue_last', got {order!r}")
    out = []
    for label, texts in cues.items():
        for j, cue in enumerate(texts):
            pad = filler(k, start=j)
            out.append(((f"{cue} {pad}" if order == "cue_first" else f"{pad} {cue}").strip(), label))
    return out


@torch.no_grad()
def distance_probe(predictors: dict, distances=DISTANCES, order: str = "cue_first",
                   cues: dict[str, list[str]] = CUES, batch_size: int = 64) -> dict:
    """Accuracy (%) of each model on the cues with k words of filler between the cue and the end of the text.

    predictors: {name: text classifier with predict_batch(texts) -> [{"label": "positive" | "negative", ...}]}. With the cue
    first, a model must carry the verdict across k words to answer; a vanilla RNN whose memory fades falls
    to chance (50%: the cues are balanced). With the cue last (order="cue_last"), the control, every model
    reads the verdict just before answering. -> {"distances", "order", "n": cues per distance,
    "accuracy": {name: [% per distance]}}."""
    distances = [int(k) for k in distances]
    if any(k < 0 for k in distances):
        raise ValueError("distances are word counts, 0 or more")
    out = {"distances": distances, "order": order, "n": sum(len(v) for v in cues.values()), "accuracy": {}}
    for name, p in predictors.items():
        accs = []
        for k in distances:
            pairs = probe_texts(k, order, cues)
            preds = p.predict_batch([t for t, _ in pairs], batch_size=batch_size)
            right = sum(pr["label"] == label for pr, (_, label) in zip(preds, pairs))
            accs.append(round(100 * right / len(pairs), 1))
        out["accuracy"][name] = accs
    return out


def gradient_profile(predictor, text: str) -> dict:
    """probe.input_gradients made comparable between models: each word's gradient norm over the last word's
    ("ratio"; 1 at the last word). Raw norms of two models differ in scale; the ratio says how much of the
    prediction's sensitivity survives going back from the end. -> {"words", "norms", "ratio", "target"}."""
    g = probe.input_gradients(predictor, text)
    last = g["norms"][-1] or 1e-30
    return {**g, "ratio": [n / last for n in g["norms"]]}


def quarter_ratio(ratio: list[float]) -> float:
    """Mean of the first quarter of a profile over the mean of its last quarter: how much the start of a
    text still moves the prediction, relative to its end (small: the start is forgotten)."""
    q = max(len(ratio) // 4, 1)
    return (sum(ratio[:q]) / q) / max(sum(ratio[-q:]) / q, 1e-30)


def gradient_band(predictor, texts: list[str], words: int = 80) -> dict:
    """The gradient profile over many texts: each text cut to its first `words` words (texts with fewer are
    skipped), log10 of the ratio per position, then the mean and the 10th/90th percentiles over texts.
    -> {"texts": n, "words", "mean", "p10", "p90", "quarter_ratio" (of the mean profile, as a ratio)}."""
    rows = []
    for text in texts:
        ws = predictor.words(text)
        if len(ws) < words:
            continue
        r = gradient_profile(predictor, " ".join(ws[:words]))["ratio"]
        if len(r) == words:  # the model's own reading of the joined words may differ; keep aligned rows only
            rows.append([math.log10(max(x, 1e-30)) for x in r])
    if not rows:
        raise ValueError(f"no text has {words} words")
    logs = torch.tensor(rows)  # (N, words)
    mean = logs.mean(0)
    return {"texts": len(rows), "words": words, "mean": mean.tolist(), "p10": logs.quantile(0.1, dim=0).tolist(),
            "p90": logs.quantile(0.9, dim=0).tolist(), "quarter_ratio": quarter_ratio((10 ** mean).tolist())}


def lifetime(predictor, text: str) -> dict:
    """How much of what a model wrote at each word is still there after the last word (forward direction).

    LSTM: c_T = f_T * c_{T-1} + ..., so of what was written into the cell at step t, the share left in c_T
    is the product of the forget gates f_{t+1} ... f_T, per unit (the cell path's own gradient, d c_T /
    d c_t along it): the note's "forget gate near 1 keeps, near 0 erases" as one number per word and unit.
    Summarised over units as the median and the 90th percentile ("top_decile": one unit in ten keeps at least
    that much): most units vs. the ones that remember longest. Vanilla RNN: no cell, so the matching figure is the norm of the Jacobian
    product d h_T / d h_t = prod diag(1 - h_s^2) W_h (largest singular value), which is all the path back
    there is. -> {"words", "arch", "kind": "forget"|"jacobian", and "median", "top_decile" (LSTM) or "norm" (RNN)}."""
    tr = probe.trace_text(predictor, text)
    fwd, words = tr["directions"]["forward"], tr["words"]
    if "f" in fwd:
        keep = forget_products(fwd["f"])  # (T, H)
        return {"words": words, "arch": tr["arch"], "kind": "forget",
                "median": keep.median(dim=1).values.tolist(), "top_decile": keep.quantile(0.9, dim=1).tolist()}
    rnn = predictor.model.encoder.rnn
    w_hh = getattr(rnn, f"weight_hh_l{rnn.num_layers - 1}").detach()
    return {"words": words, "arch": tr["arch"], "kind": "jacobian", "norm": jacobian_norms(fwd["h"], w_hh)}


def forget_products(f: torch.Tensor) -> torch.Tensor:
    """f (T, H) forget gates -> (T, H): row t is f_{t+1} * ... * f_T (ones for the last word)."""
    after = torch.cat([f[1:], torch.ones_like(f[:1])])  # row t holds f_{t+1}
    return after.flip(0).cumprod(0).flip(0)


@torch.no_grad()
def jacobian_norms(h: torch.Tensor, w_hh: torch.Tensor) -> list[float]:
    """h (T, H) a tanh RNN's states, w_hh (H, H) -> per t, the largest singular value of d h_T / d h_t."""
    T, H = h.shape
    prod, norms = torch.eye(H), [1.0] * T
    for t in range(T - 2, -1, -1):
        prod = prod @ ((1 - h[t + 1] ** 2)[:, None] * w_hh)  # d h_{t+1} / d h_t = diag(1 - h_{t+1}^2) W_h
        norms[t] = float(torch.linalg.matrix_norm(prod, ord=2))
    return norms
