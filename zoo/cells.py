"""Readable recurrent cells, written from the equations of the seed note (docs/seed-note.ko.md).

    vanilla RNN   h_t = tanh(W_x x_t + W_h h_{t-1} + b)

    LSTM          i_t = sigmoid(W_xi x_t + W_hi h_{t-1} + b_i)   input gate: how much of g_t to write
                  f_t = sigmoid(W_xf x_t + W_hf h_{t-1} + b_f)   forget gate: how much of c_{t-1} to keep
                  g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)      candidate: what could be written
                  o_t = sigmoid(W_xo x_t + W_ho h_{t-1} + b_o)   output gate: how much of the cell to show
                  c_t = f_t * c_{t-1} + i_t * g_t                 long-term memory (cell state)
                  h_t = o_t * tanh(c_t)                           short-term output (hidden state)

The weights are those of torch's fused nn.RNN / nn.LSTM (same tensors, same gate order i, f, g, o), so
one trained model runs both ways: the fused kernels for training and batch inference, and `trace`
below when you want every gate at every step. tests/test_cells.py shows the two agree.
"""
from __future__ import annotations

import torch
from torch import nn

GATES = ("i", "f", "g", "o")
# What-if switches: the same trained weights, one piece of the cell changed, to see why it is built as it is.
SWITCHES = {
    "forget=1": "f_t forced to 1: c_t = c_{t-1} + i_t * g_t, the cell never forgets",
    "forget=0": "f_t forced to 0: c_t = i_t * g_t, the cell carries nothing over; only h_{t-1} still links "
                "the steps, as in a vanilla RNN",
    "input=1": "i_t forced to 1: c_t = f_t * c_{t-1} + g_t, every candidate is written in full",
    "add": "each gate product a * b replaced by a sum a + b: c_t = f_t + c_{t-1} + i_t + g_t, "
           "h_t = o_t + tanh(c_t); a gate can then only shift a value, not open or close it",
    "no-tanh": "no tanh on the cell state: h_t = o_t * c_t",
    "output=1": "o_t forced to 1: h_t = tanh(c_t), the whole cell state is let out at every step",
    "matrix": "each gate product a * b replaced by a matrix product that is not diagonal, (1 a^T / H) b: every "
              "unit gets the same gated average a . b / H, so no unit can be opened or shut on its own",
}


def rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """One vanilla RNN step. x (B, I), h (B, H) -> h (B, H). torch keeps two biases; b = b_ih + b_hh."""
    return torch.tanh(x @ w_ih.T + h @ w_hh.T + b_ih + b_hh)


def _mixed(a, b):
    """(1 a^T / H) b for a batch: the gate a (B, H) as a matrix that is not diagonal, applied to b (B, H). Each
    unit gets the same value, mean(a * b): a matrix product can move and mix positions, but only the diagonal
    diag(a) b = a * b opens or shuts each one on its own (the seed note's valve per hole)."""
    return (a * b).mean(-1, keepdim=True).expand_as(b)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh, switch: str | None = None):
    """One LSTM step. x (B, I), h and c (B, H) -> h, c (B, H) and the gates {i, f, g, o} (B, H).
    switch: None for the real cell, or one of SWITCHES (the gates returned are the ones used)."""
    z = x @ w_ih.T + h @ w_hh.T + b_ih + b_hh  # (B, 4H): the four pre-activations side by side
    zi, zf, zg, zo = z.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(zi), torch.sigmoid(zf), torch.tanh(zg), torch.sigmoid(zo)
    if switch is None:
        c = f * c + i * g
        h = o * torch.tanh(c)
    elif switch == "add":
        c = f + c + i + g
        h = o + torch.tanh(c)
    elif switch == "matrix":  # a gate as a full matrix rather than diag(a): it mixes the units it gates
        c = _mixed(f, c) + _mixed(i, g)
        h = _mixed(o, torch.tanh(c))
    else:
        if switch not in SWITCHES:
            raise ValueError(f"unknown switch {switch!r}; choose one of {', '.join(SWITCHES)}")
        f = torch.ones_like(f) if switch == "forget=1" else torch.zeros_like(f) if switch == "forget=0" else f
        i = torch.ones_like(i) if switch == "input=1" else i
        o = torch.ones_like(o) if switch == "output=1" else o
        c = f * c + i * g
        h = o * (c if switch == "no-tanh" else torch.tanh(c))
    return h, c, {"i": i, "f": f, "g": g, "o": o}


def reverse_within_length(x, lengths):
    """Reverse each sequence of x (B, T, ...) inside its own length; padding stays where it is."""
    B, T = x.shape[:2]
    t = torch.arange(T, device=x.device)
    lengths = lengths.to(x.device)[:, None]
    idx = torch.where(t < lengths, lengths - 1 - t, t)  # (B, T); an involution, so it also undoes itself
    rows = (idx + T * torch.arange(B, device=x.device)[:, None]).view(-1)  # (B*T,) rows of x.flatten(0, 1)
    # whole rows by index_select, not an element-wise gather: 2-3x faster forward and backward on the CPU,
    # timed alone at batch 64, 9-230 steps
    return x.flatten(0, 1).index_select(0, rows).view(x.shape)


def _run_direction(layer, x, lengths, suffix, is_lstm, h0=None, c0=None, switch=None):
    """Run one direction of one layer step by step. x (B, T, I) -> dict of (B, T, H) tensors."""
    w_ih, w_hh = getattr(layer, "weight_ih" + suffix), getattr(layer, "weight_hh" + suffix)
    b_ih, b_hh = getattr(layer, "bias_ih" + suffix), getattr(layer, "bias_hh" + suffix)
    B, T, _ = x.shape
    H = w_hh.shape[1]
    h = x.new_zeros(B, H) if h0 is None else h0
    c = x.new_zeros(B, H) if c0 is None else c0
    steps = {k: [] for k in (("h", "c") + GATES if is_lstm else ("h",))}
    for t in range(T):
        live = (t < lengths).to(x.dtype)[:, None].to(x.device)  # (B, 1): 0 once a sequence has ended
        if is_lstm:
            h_new, c_new, gates = lstm_cell(x[:, t], h, c, w_ih, w_hh, b_ih, b_hh, switch)
            c = live * c_new + (1 - live) * c  # a finished sequence keeps its last state
            for k in GATES:
                steps[k].append(gates[k] * live)
            steps["c"].append(c * live)
        else:
            h_new = rnn_cell(x[:, t], h, w_ih, w_hh, b_ih, b_hh)
        h = live * h_new + (1 - live) * h
        steps["h"].append(h * live)  # padded steps read 0, as pad_packed_sequence gives
    out = {k: torch.stack(v, dim=1) for k, v in steps.items()}
    out["h_last"], out["c_last"] = h, c
    return out


def trace(rnn: nn.RNN | nn.LSTM, x, lengths=None, hx=None, switch: str | None = None):
    """Run a fused torch RNN/LSTM's own weights through the readable cells, one step at a time.

    x (B, T, I), lengths (B,) or None; hx the starting state as torch takes it: h0 (layers * directions,
    B, H), or (h0, c0) for an LSTM (a caption decoder starts from the image), None for zeros. Returns (output, h_n, traces):
      output (B, T, D) as the fused layer gives it (D = H or 2H), h_n (layers * directions, B, H),
      traces: one dict per layer and direction with "layer", "direction" and tensors (B, T, H):
      "h" (and for an LSTM "c", "i", "f", "g", "o"), in the input's time order for both directions.
    Runs in eval mode semantics (no dropout between layers). switch: a what-if change to every LSTM step
    (SWITCHES); a vanilla RNN has no gates, so a switch is an error there.
    """
    if not isinstance(rnn, (nn.RNN, nn.LSTM)) or not rnn.batch_first:
        raise TypeError("trace expects a batch_first torch.nn.RNN or torch.nn.LSTM")
    if isinstance(rnn, nn.RNN) and rnn.nonlinearity != "tanh":
        raise ValueError("only the tanh RNN of the seed note is traced")
    is_lstm = isinstance(rnn, nn.LSTM)
    if switch is not None and not is_lstm:
        raise ValueError("a vanilla RNN has no gates to switch")
    B, T, _ = x.shape
    lengths = torch.full((B,), T, dtype=torch.long) if lengths is None else lengths.cpu().long()
    directions = ["forward", "backward"] if rnn.bidirectional else ["forward"]
    h0, c0 = (hx if isinstance(hx, tuple) else (hx, None)) if hx is not None else (None, None)
    traces, h_n, layer_in = [], [], x
    for layer in range(rnn.num_layers):
        outs = []
        for d, name in enumerate(directions):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            inp = reverse_within_length(layer_in, lengths) if d else layer_in
            k = layer * len(directions) + d  # torch's order of the state's first dimension
            res = _run_direction(rnn, inp, lengths, suffix, is_lstm,
                                 None if h0 is None else h0[k], None if c0 is None else c0[k], switch)
            if d:  # put the backward pass back into the input's time order
                res = {k: (reverse_within_length(v, lengths) if v.dim() == 3 else v) for k, v in res.items()}
            h_n.append(res.pop("h_last"))
            res.pop("c_last")
            traces.append({"layer": layer, "direction": name, **res})
            outs.append(res["h"])
        layer_in = torch.cat(outs, dim=-1)  # (B, T, D)
    return layer_in, torch.stack(h_n), traces
