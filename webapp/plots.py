"""Figures for the app: the sentiment tab's by-step chart is a table that the browser draws (gr.LinePlot);
the heatmaps and gradient bars are matplotlib figures, built on matplotlib.figure.Figure, not pyplot: no
global figure registry, so concurrent requests in queue threads cannot draw into each other's plots, and
each figure is freed when gradio is done with it."""
from __future__ import annotations

import matplotlib
import pandas as pd

matplotlib.use("Agg")  # no display on a server

from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from zoo.encoder import ARCH_NAMES  # noqa: E402

# Words typed in Korean need a Hangul font; use one where the system has it (Debian: fonts-nanum or
# fonts-noto-cjk), falling back glyph by glyph from DejaVu Sans. Missing fonts are simply skipped.
_HANGUL = [f for f in ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR")
           if any(e.name == f for e in font_manager.fontManager.ttflist)]
matplotlib.rcParams["font.family"] = ["DejaVu Sans", *_HANGUL]

COLORS = {"rnn": "#d62728", "lstm": "#1f77b4", "bilstm": "#2ca02c"}
NAMES = {**ARCH_NAMES, "bilstm": ARCH_NAMES["bilstm"] + " (forward)"}  # the by-step curve reads one direction
# Entity colours for the NER tab, also used by the legend
ENTITY_COLORS = {"PER": "#ff9e9e", "ORG": "#9ecbff", "LOC": "#a6e3a1", "MISC": "#f9e2af"}


def _word_axis(ax, words):
    """Words under the columns; long lists tilt, long words are cut so the margins hold."""
    tilt = len(words) > 6
    ax.set_xticks(range(len(words)))
    ax.set_xticklabels([w if len(w) <= 14 else w[:13] + "…" for w in words], rotation=60 if tilt else 0,
                       ha="right" if tilt else "center", fontsize=8)


BY_STEP_X, BY_STEP_Y, BY_STEP_MODEL = "word", "P(positive)", "model"


def by_step(words: list[str], curves: dict[str, list[float]]) -> pd.DataFrame:
    """P(positive) after each word, one line per model, as a long table for gr.LinePlot: the browser draws
    it (and any script, Hangul included, with its own fonts), where a matplotlib figure cost ~30 ms of
    drawing and PNG encoding per request. x labels carry the word's position, so a repeated word ("the")
    keeps its own point; the position is zero-padded ("01 the" ... "30 back") because the plot sorts its
    x labels as text, and padded numbers sort in reading order."""
    width = len(str(len(words)))
    labels = [f"{i:0{width}d} {w if len(w) <= 14 else w[:13] + '…'}" for i, w in enumerate(words, 1)]
    rows = [(labels[t], float(p), NAMES.get(arch, arch)) for arch, ys in curves.items() for t, p in enumerate(ys)
            if t < len(labels)]
    return pd.DataFrame(rows, columns=[BY_STEP_X, BY_STEP_Y, BY_STEP_MODEL])


def heatmap(matrix, words: list[str], title: str, kind: str) -> Figure:
    """matrix (T, H): one column per word, one row per hidden unit.
    kind "gate": values in (0, 1); "tanh": (-1, 1); "free": symmetric around 0 (the cell state is unbounded)."""
    data = matrix.T.numpy() if hasattr(matrix, "numpy") else matrix.T
    if kind == "gate":
        cmap, vmin, vmax = "viridis", 0.0, 1.0
    else:
        lim = 1.0 if kind == "tanh" else max(float(abs(data).max()), 1e-6)
        cmap, vmin, vmax = "RdBu_r", -lim, lim
    # fixed margins, not layout="constrained": six of these per request, and the layout solver
    # doubled the time to draw them
    fig = Figure(figsize=(8, 2.6))
    fig.subplots_adjust(left=0.08, right=0.99, top=0.9, bottom=0.32)
    ax = fig.add_subplot()
    im = ax.imshow(data, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("unit")
    _word_axis(ax, words)
    fig.colorbar(im, ax=ax, pad=0.01)
    return fig


def gradients(words: list[str], norms: dict[str, list[float]], target: str) -> Figure:
    """Gradient norm per input position, vanilla RNN vs LSTM, log scale."""
    fig = Figure(figsize=(8, 3.4), layout="constrained")
    ax = fig.add_subplot()
    n = len(norms)
    width = 0.8 / max(n, 1)
    for k, (arch, ys) in enumerate(norms.items()):
        xs = [t + (k - (n - 1) / 2) * width for t in range(len(ys))]
        ax.bar(xs, [max(y, 1e-12) for y in ys], width=width, color=COLORS.get(arch), label=NAMES.get(arch, arch).replace(" (forward)", ""))
    ax.set_yscale("log")
    ax.set_ylabel("|d prediction / d x_t|")
    ax.set_title(f"gradient of the {target} w.r.t. each word's input", fontsize=9)
    _word_axis(ax, words)
    ax.legend(fontsize=8)
    return fig
