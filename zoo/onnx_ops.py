"""The recurrent layers as seqzoo ops for ONNX export (zoo/export.py), each written out as one ONNX LSTM or RNN node.

Left to itself, torch.export computes the shapes of torch's LSTM/RNN kernels by running them step by step,
which pins the sequence length to the example's (the vanilla RNN even comes out unrolled into that many
MatMuls), so the graph would refuse any other length. Inside `exportable(model)` the encoders take their
padded route with their directions through these ops, whose shape functions say the shapes without
stepping through time, and `translations()` writes each op as one ONNX node.
"""
from __future__ import annotations

import contextlib
import functools
import types

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from . import cells
from .encoder import RecurrentEncoder, joined_final, layer_params


# One recurrent layer, one direction, batch first, from a given state: x (B, T, I), h0 (and c0) (1, B, H) ->
# y (B, T, H), h_n (and c_n) (1, B, H). Eagerly they are torch's fused kernels; their shape functions say
# the shapes without stepping through time, so T stays symbolic in the exported graph.
@torch.library.custom_op("seqzoo::lstm_layer", mutates_args=())
def lstm_layer(x: Tensor, h0: Tensor, c0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor,
               b_hh: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    y, h, c = torch.lstm(x, (h0, c0), [w_ih, w_hh, b_ih, b_hh], True, 1, 0.0, False, False, True)
    return y, h, c


@torch.library.custom_op("seqzoo::rnn_layer", mutates_args=())
def rnn_layer(x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> tuple[Tensor, Tensor]:
    y, h = torch.rnn_tanh(x, h0, [w_ih, w_hh, b_ih, b_hh], True, 1, 0.0, False, False, True)
    return y, h


@torch.library.custom_op("seqzoo::bilstm_layer", mutates_args=())
def bilstm_layer(x: Tensor, lengths: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor, w_ih_r: Tensor,
                 w_hh_r: Tensor, b_ih_r: Tensor, b_hh_r: Tensor) -> Tensor:
    """One bidirectional LSTM layer from zero states, batch first: x (B, T, I), lengths (B,) -> y (B, T, 2H), the
    backward direction reading each sequence reversed inside its own length (RecurrentEncoder._both_directions)."""
    def run(x, w_ih, w_hh, b_ih, b_hh):  # one direction: lstm_layer's kernel from a zero state
        h0 = x.new_zeros(1, x.size(0), w_hh.size(1))
        return lstm_layer(x, h0, h0, w_ih, w_hh, b_ih, b_hh)[0]
    back = run(cells.reverse_within_length(x, lengths), w_ih_r, w_hh_r, b_ih_r, b_hh_r)
    return torch.cat([run(x, w_ih, w_hh, b_ih, b_hh), cells.reverse_within_length(back, lengths)], dim=-1)


@bilstm_layer.register_fake
def _bilstm_shape(x, lengths, w_ih, w_hh, b_ih, b_hh, w_ih_r, w_hh_r, b_ih_r, b_hh_r):
    return x.new_empty(x.size(0), x.size(1), 2 * w_hh.size(1))


@lstm_layer.register_fake
def _lstm_shape(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    return x.new_empty(x.size(0), x.size(1), w_hh.size(1)), torch.empty_like(h0), torch.empty_like(c0)


@rnn_layer.register_fake
def _rnn_shape(x, h0, w_ih, w_hh, b_ih, b_hh):
    return x.new_empty(x.size(0), x.size(1), w_hh.size(1)), torch.empty_like(h0)


def _onnx_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """The ONNX form of one layer (onnxscript, traced): one ONNX LSTM or RNN node (c0 None: RNN)."""
    from onnxscript import opset18 as op

    lstm = c0 is not None
    H = w_hh.shape[1]  # read from the parameter itself: the reordered copy below has no static shape
    if lstm:
        w_ih, w_hh, b_ih, b_hh = (_onnx_gates(op, w) for w in (w_ih, w_hh, b_ih, b_hh))
    W, R = op.Unsqueeze(w_ih, [0]), op.Unsqueeze(w_hh, [0])  # one direction: (1, gates * H, I), (1, gates * H, H)
    B = op.Unsqueeze(op.Concat(b_ih, b_hh, axis=0), [0])
    seq = op.Transpose(x, perm=[1, 0, 2])  # ONNX's default layout is time first
    if lstm:
        Y, h, c = op.LSTM(seq, W, R, B, None, h0, c0, hidden_size=H)
    else:
        Y, h = op.RNN(seq, W, R, B, None, h0, hidden_size=H)
    y = op.Transpose(op.Squeeze(Y, [1]), perm=[1, 0, 2])  # (T, 1, B, H) -> (B, T, H)
    return (y, h, c) if lstm else (y, h)


def _onnx_gates(op, w):
    """An LSTM weight or bias in ONNX's gate order: torch orders the gates i, f, g, o; ONNX i, o, f, g."""
    i, f, g, o = op.Split(w, num_outputs=4, axis=0)
    return op.Concat(i, o, f, g, axis=0)


def _onnx_bilstm(x, lengths, w_ih, w_hh, b_ih, b_hh, w_ih_r, w_hh_r, b_ih_r, b_hh_r):
    """One ONNX LSTM node, direction bidirectional, whose sequence_lens make its backward direction start at
    each sequence's own last word: no reversal around it (a third fewer nodes in a BiLSTM tagger's graph)."""
    from onnxscript import opset18 as op

    def gates(w):
        return _onnx_gates(op, w)

    def both(fwd, bwd):  # -> (2, ...): one slice per direction, forward first
        return op.Concat(op.Unsqueeze(fwd, [0]), op.Unsqueeze(bwd, [0]), axis=0)

    W, R = both(gates(w_ih), gates(w_ih_r)), both(gates(w_hh), gates(w_hh_r))
    B = both(op.Concat(gates(b_ih), gates(b_hh), axis=0), op.Concat(gates(b_ih_r), gates(b_hh_r), axis=0))
    seq = op.Transpose(x, perm=[1, 0, 2])  # time first
    Y, _, _ = op.LSTM(seq, W, R, B, op.Cast(lengths, to=6), hidden_size=w_hh.shape[1], direction="bidirectional")
    return op.Reshape(op.Transpose(Y, perm=[2, 0, 1, 3]), [0, 0, -1])  # (T, 2, B, H) -> (B, T, 2H), int32 lengths above


def _onnx_lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh):  # plain functions: the exporter reads their signatures
    return _onnx_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh)


def _onnx_rnn(x, h0, w_ih, w_hh, b_ih, b_hh):
    return _onnx_layer(x, h0, None, w_ih, w_hh, b_ih, b_hh)


def translations() -> dict:
    """torch.onnx.export's custom_translation_table for the seqzoo ops."""
    return {torch.ops.seqzoo.lstm_layer.default: _onnx_lstm, torch.ops.seqzoo.rnn_layer.default: _onnx_rnn,
            torch.ops.seqzoo.bilstm_layer.default: _onnx_bilstm}


def _direction_op(self: RecurrentEncoder, x, layer, suffix):
    """RecurrentEncoder._direction through the seqzoo ops, from a zero state (same weights, same numbers)."""
    h0 = x.new_zeros(1, x.size(0), self.rnn.hidden_size)
    if isinstance(self.rnn, nn.LSTM):
        return lstm_layer(x, h0, h0, *layer_params(self.rnn, layer, suffix))[0]
    return rnn_layer(x, h0, *layer_params(self.rnn, layer, suffix))[0]


def _both_directions_op(self: RecurrentEncoder, x, lengths, layer):
    """RecurrentEncoder._both_directions as one seqzoo op (one bidirectional ONNX node)."""
    return bilstm_layer(x, lengths, *layer_params(self.rnn, layer), *layer_params(self.rnn, layer, "_reverse"))


def _both_final_op(self: RecurrentEncoder, x, lengths, layer):
    """RecurrentEncoder._both_final from the one bidirectional op's outputs (one ONNX node, as above)."""
    return joined_final(_both_directions_op(self, x, lengths, layer), lengths, self.rnn.hidden_size)


def _layer_op(rnn: nn.RNNBase, x, state=None):
    """nn.LSTM/nn.RNN's forward (one layer, one direction, batch first: the caption decoders') as a seqzoo op."""
    if rnn.num_layers != 1 or rnn.bidirectional or not rnn.batch_first or isinstance(x, PackedSequence):
        raise ValueError("ONNX export runs single-layer, one-direction, batch-first nn.LSTM/nn.RNN calls only")
    if state is None:
        state = x.new_zeros(1, x.size(0), rnn.hidden_size)
        state = (state, state) if isinstance(rnn, nn.LSTM) else state
    if isinstance(rnn, nn.LSTM):
        y, h, c = lstm_layer(x, *state, *layer_params(rnn))
        return y, (h, c)
    return rnn_layer(x, state, *layer_params(rnn))


@contextlib.contextmanager
def exportable(model: nn.Module):
    """Inside: every RecurrentEncoder of model takes the padded route, its directions through the seqzoo ops,
    and every other nn.LSTM/nn.RNN call is one seqzoo op. Set on the instances and taken off after, so the
    model is unchanged outside the block."""
    encoders = [m for m in model.modules() if isinstance(m, RecurrentEncoder)]
    layers = [m for m in model.modules() if isinstance(m, (nn.LSTM, nn.RNN))]
    for enc in encoders:
        enc._route = lambda batch_size, device: "padded"  # whichever the batch: the graph has dynamic axes
        enc._direction = types.MethodType(_direction_op, enc)
        enc._both_directions = types.MethodType(_both_directions_op, enc)
        enc._both_final = types.MethodType(_both_final_op, enc)
    for rnn in layers:
        rnn.forward = functools.partial(_layer_op, rnn)
    try:
        yield
    finally:
        for m in encoders:
            del m._route, m._direction, m._both_directions, m._both_final
        for m in layers:
            del m.forward
