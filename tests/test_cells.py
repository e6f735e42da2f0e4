"""The readable cells (zoo/cells.py) compute exactly what torch's fused layers compute."""
import numpy as np
import pytest
import torch
from torch import nn

from zoo import cells
from zoo.encoder import RecurrentEncoder


def test_seed_note_numpy_rnn_loop_equals_rnn_cell():
    # the seed note's own loop: h = tanh(Wx x + Wh h + b), 10 steps, input 4, hidden 8
    rng = np.random.default_rng(0)
    inputs, Wx, Wh, b = rng.random((10, 4)), rng.random((8, 4)), rng.random((8, 8)), rng.random((8,))
    hidden_state = np.zeros((8,))
    for x in inputs:
        hidden_state = np.tanh(np.dot(Wx, x) + np.dot(Wh, hidden_state) + b)
    h = torch.zeros(1, 8, dtype=torch.float64)
    t = lambda a: torch.from_numpy(a)
    for x in inputs:
        h = cells.rnn_cell(t(x)[None], h, t(Wx), t(Wh), t(b), torch.zeros(8, dtype=torch.float64))
    np.testing.assert_allclose(h[0].numpy(), hidden_state, atol=1e-12)


def _fused_and_traced(layer, x, lengths):
    """Outputs and input gradients of the fused path (packed) and of the readable cells."""
    enc_in = x.clone().requires_grad_(True)
    packed = nn.utils.rnn.pack_padded_sequence(enc_in, lengths, batch_first=True, enforce_sorted=False)
    out, _ = layer(packed)
    out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    fused_grads = [enc_in.grad.clone()] + [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    tr_in = x.clone().requires_grad_(True)
    traced, _, _ = cells.trace(layer, tr_in, lengths)
    (traced * weights).sum().backward()
    traced_grads = [tr_in.grad.clone()] + [p.grad.clone() for p in layer.parameters()]
    return out, traced, fused_grads, traced_grads


@pytest.mark.parametrize("kind,bidirectional,num_layers", [
    ("rnn", False, 1), ("lstm", False, 1), ("lstm", True, 1), ("rnn", True, 2), ("lstm", True, 2)])
def test_trace_matches_fused_layer_on_padded_batch(kind, bidirectional, num_layers):
    torch.manual_seed(0)
    cls = nn.RNN if kind == "rnn" else nn.LSTM
    layer = cls(5, 7, num_layers, batch_first=True, bidirectional=bidirectional).double()
    x = torch.randn(4, 9, 5, dtype=torch.float64)
    lengths = torch.tensor([9, 3, 6, 1])
    x[1, 3:] = 0  # padding, as a real batch has it
    out, traced, g_fused, g_traced = _fused_and_traced(layer, x, lengths)
    assert (out - traced).abs().max() <= 1e-5
    for a, b in zip(g_fused, g_traced):
        assert (a - b).abs().max() <= 1e-5


def test_trace_matches_in_float32_too():
    torch.manual_seed(1)
    layer = nn.LSTM(6, 8, batch_first=True, bidirectional=True)
    x, lengths = torch.randn(3, 12, 6), torch.tensor([12, 7, 2])
    out, traced, g_fused, g_traced = _fused_and_traced(layer, x, lengths)
    assert (out - traced).abs().max() <= 1e-5
    assert max((a - b).abs().max() for a, b in zip(g_fused, g_traced)) <= 1e-5


@pytest.mark.parametrize("kind,bidirectional,num_layers", [("rnn", False, 1), ("lstm", False, 1), ("lstm", True, 2)])
def test_trace_starts_from_a_given_state_as_the_fused_layer_does(kind, bidirectional, num_layers):
    # a caption decoder starts from the image, not from zeros
    torch.manual_seed(2)
    cls = nn.RNN if kind == "rnn" else nn.LSTM
    layer = cls(5, 7, num_layers, batch_first=True, bidirectional=bidirectional).double()
    x = torch.randn(3, 6, 5, dtype=torch.float64)
    n = num_layers * (2 if bidirectional else 1)
    hx = torch.randn(n, 3, 7, dtype=torch.float64)
    if kind == "lstm":
        hx = (hx, torch.randn(n, 3, 7, dtype=torch.float64))
    out, state = layer(x, hx)
    traced, h_n, _ = cells.trace(layer, x, hx=hx)
    assert (out - traced).abs().max() <= 1e-10
    assert (h_n - (state[0] if kind == "lstm" else state)).abs().max() <= 1e-10


def test_lstm_trace_returns_gates_that_rebuild_the_states():
    torch.manual_seed(2)
    enc = RecurrentEncoder("bilstm", 4, 5)
    x, lengths = torch.randn(2, 6, 4), torch.tensor([6, 4])
    _, h_n, traces = enc.trace(x, lengths)
    assert [t["direction"] for t in traces] == ["forward", "backward"]
    fw = traces[0]
    for k in ("h", "c", "i", "f", "g", "o"):
        assert fw[k].shape == (2, 6, 5)
    # c_t = f_t * c_{t-1} + i_t * g_t and h_t = o_t * tanh(c_t), step by step
    c_prev = torch.zeros(2, 5)
    for t in range(4):
        c = fw["f"][:, t] * c_prev + fw["i"][:, t] * fw["g"][:, t]
        torch.testing.assert_close(fw["c"][:, t], c)
        torch.testing.assert_close(fw["h"][:, t], fw["o"][:, t] * torch.tanh(c))
        c_prev = c
    assert torch.all((fw["f"] >= 0) & (fw["f"] <= 1)) and torch.all(fw["g"].abs() <= 1)
    # the backward direction's last state is the one at the first word
    torch.testing.assert_close(h_n[1], traces[1]["h"][:, 0])


def test_trace_refuses_layers_it_cannot_read():
    with pytest.raises(ValueError):
        cells.trace(nn.RNN(3, 3, batch_first=True, nonlinearity="relu"), torch.zeros(1, 2, 3))
    with pytest.raises(TypeError):
        cells.trace(nn.GRU(3, 3, batch_first=True), torch.zeros(1, 2, 3))
