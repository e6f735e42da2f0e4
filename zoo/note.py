"""The seed note's NumPy RNN loop, run on a trained zoo RNN's own weights.

The note (docs/seed-note.ko.md, "RNN 직접 구현해보기") writes a vanilla RNN as a three-line NumPy loop:

    for x in inputs:
        output = np.tanh(np.dot(Wx, x) + np.dot(Wh, hidden_state) + b)
        hidden_state = output

`numpy_weights` takes Wx, Wh and b out of a trained torch nn.RNN (torch keeps two biases, b_ih and b_hh;
they are only ever added, so b = b_ih + b_hh), and `note_loop` is the note's loop, word for word. On a
text, `run` feeds the model's own word vectors through it and compares with the model's encoder.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

NOTE_CODE = '''for x in inputs:
    output = np.tanh(np.dot(Wx, x) + np.dot(Wh, hidden_state) + b)
    hidden_state = output'''


def numpy_weights(rnn: nn.RNN) -> dict[str, np.ndarray]:
    """The first layer's forward weights as the note names them: Wx (H, I), Wh (H, H), b (H,)."""
    if not isinstance(rnn, nn.RNN) or rnn.nonlinearity != "tanh":
        raise TypeError("the note's loop is the tanh vanilla RNN; this model's layer is not one")
    with torch.no_grad():
        return {"Wx": rnn.weight_ih_l0.double().numpy().copy(), "Wh": rnn.weight_hh_l0.double().numpy().copy(),
                "b": (rnn.bias_ih_l0 + rnn.bias_hh_l0).double().numpy().copy()}


def note_loop(inputs: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The note's loop, word for word; -> every step's hidden state (T, H) (the note keeps only the last)."""
    hidden_state = np.zeros((Wh.shape[0],))
    states = []
    for x in inputs:
        output = np.tanh(np.dot(Wx, x) + np.dot(Wh, hidden_state) + b)
        hidden_state = output
        states.append(hidden_state)
    return np.stack(states)


@torch.no_grad()
def run(predictor, text) -> dict:
    """A vanilla-RNN text model's word vectors for text, through the note's loop and through the model's own
    encoder. -> {"words", "numpy" (T, H), "torch" (T, H), "max_abs_diff", "shapes"} (arrays as NumPy)."""
    model = predictor.model
    if model.encoder.arch != "rnn":
        raise ValueError("the note's loop is a vanilla RNN; choose a -rnn model")
    words, batch = predictor.encode(text)
    x = model.embed(batch)  # (1, T, I), the vectors the encoder reads
    ours, _ = model.encoder(x, batch["lengths"])  # (1, T, H)
    w = numpy_weights(model.encoder.rnn)
    inputs = x[0].double().numpy()
    states = note_loop(inputs, **w)
    theirs = ours[0].double().numpy()
    return {"words": words, "numpy": states, "torch": theirs, "max_abs_diff": float(np.abs(states - theirs).max()),
            "shapes": {"inputs": inputs.shape, **{k: v.shape for k, v in w.items()}, "hidden_state": states.shape[1:]}}
