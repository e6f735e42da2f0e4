"""A caption model as ONNX graphs: for each decoder direction, its start, step and teacher-forced forward.

Beam search (tasks/caption_decode.py) is Python that calls the model through three methods, and stays
Python; each method becomes a graph, run in onnxruntime in its place (zoo/export.py writes them,
zoo/onnx_run.py loads them):

    start_D    features (B, F)                      -> h (1, B, H) [, c (1, B, H)]   the image's starting state
    step_D     tokens (N,), h (1, N, H) [, c]        -> logp (N, V), h_next [, c_next] one word for every beam
    forward_D  features (B, F), inputs (B, T)        -> logits (B, T, V)               the BiLSTM's rescoring

The batch (B, N) and length (T) axes are dynamic; D is 0 (left to right) and, for the BiLSTM, 1.
"""
from __future__ import annotations

import torch
from torch import nn

from zoo.export import Graph
from zoo.onnx_run import run

EXAMPLE_ROWS = 2  # torch.export fixes any axis whose example size is 0 or 1


class _Method(nn.Module):
    """fn(model, *tensors) as a module owning model, so its weights are the graph's, not loose constants."""

    def __init__(self, model: nn.Module, fn):
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, *tensors):
        return self.fn(self.model, *tensors)


def _state_names(lstm: bool) -> list[str]:
    return ["h", "c"] if lstm else ["h"]


def onnx_graphs(predictor) -> dict[str, Graph]:
    model = predictor.model
    cfg = model.cfg
    lstm = model.decoders[0].is_lstm
    state = _state_names(lstm)
    features = torch.zeros(EXAMPLE_ROWS, cfg.feature_dim)
    tokens = torch.tensor([cfg.bos_id, cfg.eos_id])
    h = torch.zeros(1, EXAMPLE_ROWS, cfg.hidden_size)
    inputs = torch.tensor([[cfg.bos_id, cfg.eos_id, cfg.eos_id], [cfg.bos_id, cfg.eos_id, 0]])
    out = {}
    for d in range(len(model.decoders)):
        def start(m, f, d=d):
            s = m.start(d, f)
            return tuple(s) if lstm else s

        def step(m, t, *s, d=d):
            logp, new = m.step(d, t, tuple(s) if lstm else s[0])
            return (logp, *new) if lstm else (logp, new)

        out[f"start_{d}"] = Graph(_Method(model, start), (features,), ["features"], state, [{0: "batch"}])
        # a distinct tensor per state input: export would read one tensor passed twice as one input
        out[f"step_{d}"] = Graph(_Method(model, step), (tokens, *(h.clone() for _ in state)), ["tokens", *state],
                                 ["logp", *(f"{n}_next" for n in state)], [{0: "batch"}, *[{1: "batch"}] * len(state)])
        out[f"forward_{d}"] = Graph(_Method(model, lambda m, f, i, d=d: m(d, f, i)), (features, inputs),
                                    ["features", "inputs"], ["logits"], [{0: "batch"}, {0: "batch", 1: "length"}])
    return out


def onnx_attach(model: nn.Module, sessions: dict) -> nn.Module:
    """Make the sessions the model's start, step and forward (instance attributes, looked up first)."""
    lstm = model.decoders[0].is_lstm
    names = _state_names(lstm)

    def start(d, features):
        s = run(sessions[f"start_{d}"], features=features)
        return tuple(s) if lstm else s[0]

    def step(d, tokens, state):
        logp, *new = run(sessions[f"step_{d}"], tokens=tokens, **dict(zip(names, state if lstm else (state,))))
        return logp, (tuple(new) if lstm else new[0])

    def forward(d, features, inputs):
        return run(sessions[f"forward_{d}"], features=features, inputs=inputs)[0]

    model.start, model.step, model.forward = start, step, forward
    return model
