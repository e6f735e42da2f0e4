"""Looking inside trained text models: per-step cell traces, input gradients, and layer shapes.

    from zoo import probe
    p = zoo.load("ner-lstm")
    probe.trace_text(p, "EU rejects German call")      # h, c and the i/f/g/o gates at every word
    probe.input_gradients(p, "EU rejects German call")  # |d prediction / d embedding| per word
    probe.layer_shapes("rnn", timesteps=2, input_size=10, hidden_size=3)  # the seed note's SimpleRNN

Works on any text predictor (NER and sentiment today): `predictor.encode(text)` gives the words and a batch,
and its model has `.embed` (words -> vectors) and `.encoder` (a RecurrentEncoder). Nothing here knows a
task or needs gradio; the app and notebooks share it.
"""
from __future__ import annotations

import threading

import torch
from torch import nn

from .cells import GATES
from .whole import whole_number

MAX_SHAPE_SIZE = 1024   # input/hidden size bound for layer_shapes: a teaching tool, not an allocator
MAX_SHAPE_STEPS = 200


class Capture:
    """A forward hook that keeps a module's output from this thread's pass: `with Capture(module) as cap:`
    ... `cap.x`. A loaded model is shared by the app's worker threads, so another thread's pass is left
    alone. grad=True makes the kept output a fresh leaf that collects gradients (d target / d output), and
    passes that leaf on, so nothing upstream is touched."""

    def __init__(self, module: nn.Module, grad: bool = False):
        self.grad, self.x, self.thread = grad, None, threading.get_ident()
        self.handle = module.register_forward_hook(self)

    def __call__(self, module, inputs, output):
        if threading.get_ident() != self.thread:
            return None
        if self.grad:
            output = output.detach().requires_grad_(True)
        self.x = output
        return output

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def trace_text(predictor, text: str, switch: str | None = None) -> dict:
    """Run the model's recurrent layer step by step (zoo.cells.trace) on one text (switch: a what-if change to
    the cell, zoo.cells.SWITCHES; None, the trained cell).

    -> {"words": [...], "arch": "rnn"|"lstm"|"bilstm", "directions": {"forward": {...}, "backward": {...}}}
    where each direction maps "h" (and for LSTMs "c", "i", "f", "g", "o") to a (T, H) float tensor
    of the last layer. The model stays in eval mode, so the trace is what prediction computes.
    """
    model = predictor.model
    words, batch = predictor.encode(text)
    with torch.no_grad(), Capture(model.embed) as cap:
        model.embed(batch)
        _, _, traces = model.encoder.trace(cap.x, batch["lengths"], switch=switch)
    last = max(t["layer"] for t in traces)
    keys = ("h", "c") + GATES
    directions = {t["direction"]: {k: t[k][0] for k in keys if k in t} for t in traces if t["layer"] == last}
    return {"words": words, "arch": model.encoder.arch, "directions": directions}


def _target(out: torch.Tensor, crf=None) -> tuple[torch.Tensor, str, int | None]:
    """The scalar whose gradient we follow: the log-probability of the predicted class of a whole-text
    model (B, C), or the predicted tag's score at the last word of a tagger (B, T, K). A tagger with a CRF
    predicts the Viterbi path, whose last tag need not be the word's top score, so the path's tag is taken.
    -> (the scalar, what it is, the tag followed or None)."""
    if out.dim() == 2:
        logp = out.log_softmax(-1)[0]
        return logp.max(), "log P(predicted class)", None
    if out.dim() == 3:
        tag = crf.decode(out.detach(), [out.size(1)])[0][-1] if crf is not None else int(out[0, -1].argmax())
        return out[0, -1, tag], "score of the last word's predicted tag", tag
    raise TypeError(f"cannot pick a prediction from model output of shape {tuple(out.shape)}")


def input_gradients(predictor, text: str) -> dict:
    """|d prediction / d x_t|, the gradient norm of the model's prediction w.r.t. each word's input vector.

    A vanilla RNN multiplies by W_h and tanh' at every step back in time, so the gradient from early
    words shrinks fast (vanishing gradient); the LSTM's cell state path c_t = f_t * c_{t-1} + ... lets
    it through when f_t stays near 1. -> {"words", "norms" (list of float), "target" (what was differentiated),
    "tag" (a tagger's predicted tag id at the last word, else None)}.
    """
    model = predictor.model
    words, batch = predictor.encode(text)
    with torch.enable_grad(), Capture(model.embed, grad=True) as cap:
        target, what, tag = _target(model(batch), getattr(model, "crf", None))  # eval mode: no dropout noise
        # autograd.grad, not backward(): no .grad is written into the shared model's parameters,
        # so concurrent requests on one cached predictor cannot disturb each other
        (grad,) = torch.autograd.grad(target, cap.x)
    # the norm in float64: the RNN's early words have entries near 1e-29, whose squares underflow float32, so a
    # float32 norm read them as exactly 0 though float32 holds the entries themselves (the true norm: ~1e-28)
    norms = grad[0].to("cpu", torch.float64).norm(dim=-1)  # on the CPU: some devices (mps) have no float64
    return {"words": words, "norms": norms.tolist(), "target": what, "tag": tag}


def layer_shapes(cell: str, timesteps: int, input_size: int, hidden_size: int,
                 bidirectional: bool = False, return_sequences: bool = False, batch: int = 1) -> dict:
    """The seed note's dimension walk-through, measured on a real torch layer.

    Builds nn.RNN / nn.LSTM(input_size, hidden_size), runs a (batch, timesteps, input_size) input and
    reports every tensor's shape and the parameter count. torch keeps two bias vectors per gate block
    (b_ih and b_hh, which only ever appear as their sum) where Keras keeps one, so torch counts
    `gates * hidden_size` more parameters per direction; both counts are given, so
    SimpleRNN(3, input_shape=(2, 10)) reads 42 (Keras) next to torch's 45.
    """
    if cell not in ("rnn", "lstm"):
        raise ValueError(f"cell must be 'rnn' or 'lstm', got {cell!r}")
    sizes = {"timesteps": (timesteps, MAX_SHAPE_STEPS), "input_size": (input_size, MAX_SHAPE_SIZE),
             "hidden_size": (hidden_size, MAX_SHAPE_SIZE), "batch": (batch, 64)}
    for name, (v, hi) in sizes.items():
        if whole_number(v, 1, hi, floats=False) is None:
            raise ValueError(f"{name} must be a whole number from 1 to {hi}, got {v!r}")
    timesteps, input_size, hidden_size, batch = (int(v) for v, _ in sizes.values())  # NumPy ints as torch wants them
    layer = (nn.LSTM if cell == "lstm" else nn.RNN)(input_size, hidden_size, batch_first=True,
                                                      bidirectional=bool(bidirectional))
    with torch.no_grad():
        x = torch.zeros(batch, timesteps, input_size)
        out, state = layer(x)
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    dirs, gates = (2 if bidirectional else 1), (4 if cell == "lstm" else 1)
    params = {name: tuple(p.shape) for name, p in layer.named_parameters()}
    torch_count = sum(p.numel() for p in layer.parameters())
    keras_count = torch_count - dirs * gates * hidden_size  # one bias vector instead of two
    # without return_sequences a layer gives its final state: for a BiLSTM, forward at the end + backward at the start
    result = out if return_sequences else torch.cat(list(h_n), dim=-1)
    # the note's output layer for a binary task, "y: 1": one sigmoid unit on what the layer returns (per step
    # with return_sequences, many to many; once for the whole sequence without, many to one)
    head = nn.Linear(result.size(-1), 1)
    with torch.no_grad():
        y = torch.sigmoid(head(result))
    return {
        "cell": cell, "dirs": dirs, "gates": gates, "input": tuple(x.shape), "x_t": (batch, input_size),
        "h_t": (batch, hidden_size), "c_t": (batch, hidden_size) if cell == "lstm" else None,
        "output": tuple(out.shape), "h_n": tuple(h_n.shape), "c_n": tuple(c_n.shape) if c_n is not None else None,
        "result": tuple(result.shape), "y": tuple(y.shape), "head_params": sum(p.numel() for p in head.parameters()),
        "head_formula": f"({result.size(-1)} + 1)·1", "weights": params, "torch_params": torch_count, "keras_params": keras_count,
        "torch_formula": f"{dirs}·{gates}·{hidden_size}·({input_size} + {hidden_size} + 2)",
        "keras_formula": f"{dirs}·{gates}·{hidden_size}·({input_size} + {hidden_size} + 1)",
    }
