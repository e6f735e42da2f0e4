"""Why the LSTM cell is built as it is, shown on trained weights: what-if switches and the cell state's size.

    from zoo import why
    p = zoo.load("sentiment-lstm")
    why.what_if(p, "not a bad movie at all .")    # the prediction with each switch: forget=1, forget=0, ...
    why.cell_magnitudes(p, "not a bad movie ...")  # |c_t| grows past 1 where tanh(c_t) and h_t stay in (-1, 1)

The seed note asks why the cell state goes through tanh before the output gate (c_t can grow: |c_t| < |c_{t-1}| + 1, so up to t after t words),
and why a gate multiplies element-wise (a valve per unit) rather than adds. The switches (zoo.cells.SWITCHES)
run the same trained weights with one piece of the cell changed, through the readable cells
(zoo.encoder.what_if), so any predictor's own predict() answers for the changed cell.
"""
from __future__ import annotations

import torch

from . import probe
from .cells import SWITCHES
from .encoder import what_if as _switched


def what_if(predictor, text, switches=tuple(SWITCHES)) -> dict:
    """{"none": predict(text), switch: predict(text) with the switch, ...} for an LSTM or BiLSTM predictor."""
    if predictor.config.get("arch") == "rnn":
        raise ValueError("a vanilla RNN has no gates to switch; choose an LSTM or BiLSTM model")
    if not predictor.words(text):  # a tagger answers no words with no tags; a table of those would read as "no entities"
        raise ValueError("the text has no words to read")
    out = {"none": predictor.predict(text)}
    for s in switches:
        with _switched(s):
            out[s] = predictor.predict(text)
    return out


def evaluate(predictor, split, switches=tuple(SWITCHES)) -> dict:
    """The predictor's validation metrics with each switch: {"none": metrics, switch: metrics, ...}."""
    out = {"none": predictor.evaluate(split)}
    for s in switches:
        with _switched(s):
            out[s] = predictor.evaluate(split)
    return out


@torch.no_grad()
def cell_magnitudes(predictor, text) -> dict:
    """Per word of the forward direction (last layer): the cell state's largest and mean |c_t| over units,
    beside max |tanh(c_t)| and max |h_t|, which stay below 1, and the largest |c_t| of the same weights with the
    gates added rather than multiplied (the what-if switch add). -> {"words", "c_max", "c_mean", "tanh_c_max",
    "h_max", "c_max_add"} (lists, one value per word) and "arch"."""
    tr = probe.trace_text(predictor, text)
    fwd = tr["directions"]["forward"]
    if "c" not in fwd:
        raise ValueError("a vanilla RNN has no cell state; choose an LSTM or BiLSTM model")
    c = fwd["c"].abs()  # (T, H)
    added = probe.trace_text(predictor, text, switch="add")["directions"]["forward"]["c"].abs()  # (T, H)
    return {"words": tr["words"], "arch": tr["arch"], "c_max": c.amax(1).tolist(), "c_mean": c.mean(1).tolist(),
            "tanh_c_max": torch.tanh(c).amax(1).tolist(), "h_max": fwd["h"].abs().amax(1).tolist(),
            "c_max_add": added.amax(1).tolist()}
