"""Figures for the app: the sentiment tab's by-step chart is a table that the browser draws (gr.LinePlot);
the heatmaps and gradient bars are matplotlib figures, built on matplotlib.figure.Figure, not pyplot: no
global figure registry, so concurrent requests in queue threads cannot draw into each other's plots, and
each figure is freed when gradio is done with it."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import pandas as pd

matplotlib.use("Agg")  # no display on a server

from matplotlib import font_manager, ticker  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from zoo.encoder import ARCH_NAMES  # noqa: E402

from .texts import ARCH_NAMES_KO, say  # noqa: E402

HANGUL_FONTS = {"NanumGothic": "NanumGothic.", "Noto Sans CJK KR": "NotoSansCJK", "Noto Sans KR": "NotoSansKR"}


def hangul_fonts(manager=font_manager.fontManager) -> list[str]:
    """The Hangul fonts (Debian: fonts-nanum or fonts-noto-cjk) matplotlib can draw with, which the figures' font
    list falls back to glyph by glyph after DejaVu Sans; none where the system has none. matplotlib lists fonts
    from a cache written the first time it ran, so a font installed after that is not in it: where the cache
    has none of these, the system's font files are looked through once (20 ms) and any found are added."""
    def known():
        names = {e.name for e in manager.ttflist}
        return [f for f in HANGUL_FONTS if f in names]
    if not known():
        for path in font_manager.findSystemFonts():
            if any(stem in path.rsplit("/", 1)[-1] for stem in HANGUL_FONTS.values()):
                try:
                    manager.addfont(path)
                except Exception:  # an unreadable font file: the others may do
                    pass
    return known()


matplotlib.rcParams["font.family"] = ["DejaVu Sans", *hangul_fonts()]  # Korean words and labels need Hangul

COLORS = {"rnn": "#d62728", "lstm": "#1f77b4", "bilstm": "#2ca02c"}
NAMES = {**ARCH_NAMES, "bilstm": ARCH_NAMES["bilstm"] + " (forward)"}  # the by-step curve reads one direction
NAMES_KO = {**ARCH_NAMES_KO, "bilstm": ARCH_NAMES["bilstm"] + " (앞 방향)"}  # the by-step legend in Korean
# Entity colours for the NER tab, also used by the legend
ENTITY_COLORS = {"PER": "#ff9e9e", "ORG": "#9ecbff", "LOC": "#a6e3a1", "MISC": "#f9e2af"}


MAX_WORD_TICKS = 40  # about as many tilted 8-point labels as an 8-inch axis holds without overlapping


def short_word(word: str) -> str:
    """A word cut to 14 characters for a label (axis, legend, notice), so long words do not push the rest away."""
    return word if len(word) <= 14 else word[:13] + "…"


def _word_axis(ax, words):
    """Words under the columns; long lists tilt, long words are cut so the margins hold, and past MAX_WORD_TICKS
    words only every k-th is labelled (with its position), so the labels never run into each other."""
    tilt = len(words) > 6
    every = -(-len(words) // MAX_WORD_TICKS)  # ceil
    ticks = list(range(0, len(words), every))
    short = [short_word(w) for w in words]
    ax.set_xticks(ticks)
    ax.set_xticklabels([short[i] if every == 1 else f"{i + 1} {short[i]}" for i in ticks],
                       rotation=60 if tilt else 0, ha="right" if tilt else "center", fontsize=8)


BY_STEP_X, BY_STEP_N, BY_STEP_Y, BY_STEP_MODEL, BY_STEP_TEXT = "word", "word number", "P(positive)", "model", "text"


def by_step(words: list[str], curves: dict[str, list[float]], lang: str = "en") -> pd.DataFrame:
    """P(positive) after each word, one line per model, as a long table for gr.LinePlot: the browser draws
    it (and any script, Hangul included, with its own fonts), where a matplotlib figure cost ~30 ms of
    drawing and PNG encoding per request. Up to MAX_WORD_TICKS words, x (BY_STEP_X) is the word with its
    position, so a repeated word ("the") keeps its own point; the position is zero-padded ("01 the" ... "30 back")
    because the plot sorts its x labels as text, and padded numbers sort in reading order. Longer (an IMDB
    review's 400 words, whose labels ran into a black band), x (BY_STEP_N) is the position as a number, which
    the browser labels sparsely, and the word is in the hover text (BY_STEP_TEXT, the plot's tooltip). The two
    kinds of x are two columns, drawn by two charts (webapp.ui): one chart handed words after numbers stayed
    blank until the page was reloaded (the browser kept the x axis's type from the table it drew before)."""
    width = len(str(len(words)))
    short = [short_word(w) for w in words]
    few = len(words) <= MAX_WORD_TICKS
    labels = [f"{i:0{width}d} {w}" for i, w in enumerate(short, 1)] if few else list(range(1, len(words) + 1))
    names = NAMES_KO if lang == "ko" else NAMES  # the legend's entries are the table's model column
    rows = [(labels[t], float(p), names.get(arch, arch), short[t]) for arch, ys in curves.items()
            for t, p in enumerate(ys) if t < len(labels)]
    return pd.DataFrame(rows, columns=[BY_STEP_X if few else BY_STEP_N, BY_STEP_Y, BY_STEP_MODEL, BY_STEP_TEXT])


def heatmap(matrix, words: list[str], title: str, kind: str, ylabel: str = "unit") -> Figure:
    """matrix (T, H): one column per word, one row per hidden unit.
    kind "gate": values in (0, 1); "tanh": (-1, 1); "free": symmetric around 0 (the cell state can grow past 1)."""
    data = matrix.T.numpy() if hasattr(matrix, "numpy") else matrix.T
    if kind == "gate":
        cmap, vmin, vmax = "viridis", 0.0, 1.0
    else:
        lim = 1.0 if kind == "tanh" else max(float(abs(data).max()), 1e-6)
        cmap, vmin, vmax = "RdBu_r", -lim, lim
    # fixed margins, not layout="constrained": six of these per request, and the layout solver
    # doubled the time to draw them
    # margins in inches: the words' 0.83 below, the title's 0.26 above, and 0.3 more for each further title line
    # (a BiLSTM's direction), so the heatmap keeps its size
    above = 0.26 + 0.3 * title.count("\n")
    fig = Figure(figsize=(8, 2.34 + above))
    fig.subplots_adjust(left=0.08, right=0.99, top=1 - above / (2.34 + above), bottom=0.832 / (2.34 + above))
    ax = fig.add_subplot()
    im = ax.imshow(data, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    # at the left: on a phone a figure keeps 600 px and scrolls sideways, so a centred title was cut mid-word
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel(ylabel)
    _word_axis(ax, words)
    fig.colorbar(im, ax=ax, pad=0.01)
    return fig


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power(value: float) -> tuple[float, int]:
    """value > 0 -> (mantissa in [1, 10), exponent)."""
    e = math.floor(math.log10(value) + 1e-9)
    return value / 10 ** e, e


def _decade(value: float, _pos=None) -> str:
    """A log axis's label, 10⁻³, in plain text: matplotlib's own (10^{-3} in mathtext) parses each label with
    pyparsing, a quarter of the time to draw a memory-tab figure. Between decades, no label."""
    if value <= 0:
        return ""
    m, e = _power(value)
    return "10" + str(e).translate(_SUPERSCRIPT) if abs(m - 1) < 1e-6 else ""


def _log_y(ax) -> None:
    """A log y axis labelled in plain text; one that shows one decade's tick or none (a gradient ratio of
    0.02-0.08; a vanilla RNN's 0.1-3.4, whose 10⁻¹ is just off the axis) labels its 2x and 5x ticks too (5×10⁻²)."""
    def minor(value, _pos=None):
        low, high = ax.get_ylim()
        if value <= 0 or low <= 0 or math.floor(math.log10(high)) - math.ceil(math.log10(low)) >= 1:
            return ""  # two decades' ticks or more in sight: they are enough
        m, e = _power(value)
        shown = round(m) in (2, 5) and abs(m - round(m)) < 1e-6
        return f"{round(m)}×10{str(e).translate(_SUPERSCRIPT)}" if shown else ""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(_decade))
    ax.yaxis.set_minor_formatter(ticker.FuncFormatter(minor))


def _lines_figure(height: float = 3.4):
    fig = Figure(figsize=(8, height), layout="constrained")
    return fig, fig.add_subplot()


def gradient_profiles(words: list[str], ratios: dict[str, list[float]], bands: dict[str, dict | None],
                      lang: str = "en", task: str = "sentiment") -> Figure:
    """Each model's gradient norm per word over its last word's (log scale), one line per model; where a
    model's config carries its profile over validation reviews (zoo.memory.gradient_band), the band between
    its 10th and 90th percentiles is drawn behind, aligned at the last word."""
    fig, ax = _lines_figure()
    T, drawn = len(words), None
    for arch, ys in ratios.items():
        band = bands.get(arch)
        n = min(T, band["words"]) if band else 0
        if n >= 2:  # a band over one word is no band: nothing would show
            drawn = band
            xs = list(range(T - n, T))
            ax.fill_between(xs, [10 ** v for v in band["p10"][-n:]], [10 ** v for v in band["p90"][-n:]],
                            color=COLORS[arch], alpha=0.12, linewidth=0)
            ax.plot(xs, [10 ** v for v in band["mean"][-n:]], color=COLORS[arch], linestyle=":", linewidth=1)
        ax.plot(range(len(ys)), [max(y, 1e-30) for y in ys], color=COLORS[arch], marker=".",
                label=(ARCH_NAMES_KO if lang == "ko" else ARCH_NAMES)[arch])
    _log_y(ax)
    ax.set_ylabel(say("grad_y", lang), fontsize=8)
    title = say("grad_title", lang, target=say(f"target_{task}", lang))  # a tagger's: its last word's tag
    if drawn:  # the second line only where a band is drawn, naming what it is over (the SST-2 models' too are IMDB's)
        data = Path(str(drawn.get("data") or "")).name.upper() or "?"
        title += "\n" + say("grad_band", lang, texts=drawn.get("texts", "?"), data=data, words=drawn["words"])
    ax.set_title(title, fontsize=8)
    _word_axis(ax, words)
    ax.legend(fontsize=8)
    return fig


LIFETIME_FLOOR = 1e-30  # drawn there when smaller (0 has no place on a log scale)


def lifetimes(words: list[str], curves: dict[str, dict], lang: str = "en") -> Figure:
    """zoo.memory.lifetime per model: for LSTMs the forget-gate product after each word (median over units,
    solid; the 90th-percentile unit, dashed), a share of the cell kept; for the vanilla RNN the norm of d h_T / d h_t, a
    size. Different quantities, so each in its own panel (on one axis the RNN's line above the LSTM's median
    read as the RNN remembering more). Log scales, values under LIFETIME_FLOOR drawn on it."""
    kinds = [k for k in ("forget", "jacobian") if any(c["kind"] == k for c in curves.values())]  # LSTMs above
    fig = Figure(figsize=(8, 1.8 + 2.6 * len(kinds)), layout="constrained")  # the legend's rows below the axes
    axes, last = {}, None
    for i, kind in enumerate(kinds):
        axes[kind] = last = fig.add_subplot(len(kinds), 1, i + 1, sharex=last)
    floor = lambda vs: [max(v, LIFETIME_FLOOR) for v in vs]  # noqa: E731 (a product can underflow to 0)
    for arch, c in curves.items():
        name, ax = (NAMES_KO if lang == "ko" else NAMES).get(arch, arch), axes[c["kind"]]
        if c["kind"] == "forget":
            ax.plot(floor(c["median"]), color=COLORS[arch], marker=".", label=say("life_median", lang, name=name))
            ax.plot(floor(c["top_decile"]), color=COLORS[arch], linestyle="--", label=say("life_top", lang, name=name))
        else:
            ax.plot(floor(c["norm"]), color=COLORS[arch], marker=".", label=f"{name}: |d h_T / d h_t|")
    for kind, ax in axes.items():
        ax.set_ylabel(say(f"life_{kind}_y", lang), fontsize=8)
        ax.set_title(say(f"life_{kind}_title", lang), fontsize=9)
    for ax in axes.values():
        _log_y(ax)
        if ax is not last:  # the shared word axis is labelled under the lowest panel only
            ax.tick_params(labelbottom=False)
    if "forget" in axes:  # a share is at most 1: no decade above it (set once the log scale has its limits)
        axes["forget"].set_ylim(axes["forget"].get_ylim()[0], 2)
    _word_axis(last, words)
    # under the axes, not on them: inside, the box covered the LSTM's median line on the default review
    fig.legend(loc="outside lower center", ncol=2, fontsize=7)
    return fig


def distance(first: dict, last: dict, lang: str = "en") -> Figure:
    """zoo.memory.distance_probe, verdict first (solid) and verdict last (dashed, the control): accuracy vs
    words between the verdict and the end. Each model's markers differ in size and its lines in width, so equal
    curves (an LSTM and a BiLSTM both at 100%) stay visible one over the other."""
    fig, ax = _lines_figure(3.2)
    look = {"rnn": ("o", 4, 1.5), "lstm": ("s", 7, 3.0), "bilstm": ("^", 5, 1.5)}  # marker, size, line width
    names = ARCH_NAMES_KO if lang == "ko" else ARCH_NAMES
    for result, style, what in ((first, "-", say("cue_first", lang)), (last, "--", say("cue_last", lang))):
        for name, accs in result["accuracy"].items():
            arch = name.rsplit("-", 1)[-1]
            marker, size, width = look.get(arch, ("o", 5, 1.5))
            ax.plot(result["distances"], accs, style, color=COLORS.get(arch), marker=marker, markersize=size,
                    linewidth=width, label=f"{names.get(arch, arch)}, {what}",
                    clip_on=False)  # a marker at 100% is drawn whole, over the frame, not cut in half
    ax.axhline(50, color="grey", linewidth=0.8, linestyle=":")
    ax.set_ylim(0, 106)  # headroom: lines at 100% drawn below the frame, not on it
    ax.set_yticks(range(0, 101, 20))
    ax.set_xlabel(say("probe_x", lang), fontsize=8)
    ax.set_ylabel(say("probe_y", lang))
    ax.set_title(say("probe_title", lang), fontsize=9)
    ax.legend(fontsize=7, ncol=2, handlelength=4)  # long enough to show a dash: the solid and dashed lines told apart
    return fig


def cell_size(m: dict, model_name: str, lang: str = "en") -> Figure:
    """zoo.why.cell_magnitudes: above, |c_t| can grow past 1 (it adds up what is written), tanh(c_t) and h_t
    cannot; below, the trained cell's max |c_t| beside the same weights' with the gates added (the what-if
    switch add), which grows with every word: what the why tab's note says of a gate that adds."""
    fig = Figure(figsize=(8, 5.2), layout="constrained")
    ax = fig.add_subplot(2, 1, 1)
    below = fig.add_subplot(2, 1, 2, sharex=ax)
    ax.plot(m["c_max"], color="#9467bd", marker=".", label=say("size_c_max", lang))
    ax.plot(m["c_mean"], color="#9467bd", linestyle="--", label=say("size_c_mean", lang))
    ax.plot(m["tanh_c_max"], color="#ff7f0e", marker=".", label=say("size_tanh", lang))
    ax.plot(m["h_max"], color="#1f77b4", marker=".", label=say("size_h", lang))
    ax.axhline(1, color="grey", linewidth=0.8, linestyle=":", label=say("size_one", lang))
    # a BiLSTM's figures are its forward half's (zoo.why.cell_magnitudes)
    name = f"{model_name} ({say('forward', lang)})" if m.get("arch") == "bilstm" else model_name
    ax.set_title(say("size_title", lang, model=name), fontsize=9)
    ax.set_ylabel(say("size_y", lang), fontsize=8)
    ax.legend(fontsize=7)
    ax.tick_params(labelbottom=False)  # the shared word axis is labelled under the lower panel
    below.plot(m["c_max"], color="#9467bd", marker=".", label=say("size_c_max", lang))
    below.plot(m["c_max_add"], color="#7f7f7f", marker=".", linestyle="--", label=say("size_add", lang))
    below.set_title(say("size_add_title", lang), fontsize=9)
    below.set_ylabel(say("size_y", lang), fontsize=8)
    below.legend(fontsize=7)
    _word_axis(below, m["words"])
    return fig
