"""ONNX export: a checkpoint's networks as ONNX graphs, in a folder that is still a checkpoint.

    python -m zoo export ner-bilstm --format onnx --out exported/ner-bilstm [--precision int8]
    zoo.load("exported/ner-bilstm")   # the networks run in onnxruntime (zoo/onnx_run.py)

A text model (NER, sentiment) is one graph, model.onnx: the model's own forward(batch), the batch's id
tensors and lengths in (word ids; for NER also casing and character ids), one score per class or per tag
per word out, batch and length axes dynamic. A task can name other graphs (tasks/caption_onnx.py: each
caption decoder's start, step and teacher-forced forward). What is not a tensor graph stays in Python
around them, the same code as the torch predictor's: the CRF's Viterbi decoding, beam search, softmax,
the formatting of results. The folder keeps model.safetensors beside the graphs, config.json (with an
"onnx" record) and tokenizer.json, so the predictor's other methods (zoo.probe's traces) still work.

The recurrent layers are exported as seqzoo ops, each written out as one ONNX LSTM or RNN node; the
encoder on its padded route (the same numbers as the packed one, tests/test_encoder_and_checkpoint.py).
Left to itself, torch.export computes the shapes of torch's LSTM/RNN kernels by running them step by step,
which pins the sequence length to the example's (the vanilla RNN even comes out unrolled into that many
MatMuls), so the graph would refuse any other length.
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import tempfile
import types
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from . import cells, checkpoint, onnx_run
from .encoder import RecurrentEncoder, joined_final, layer_params
from .onnx_run import TEXT_GRAPH
from .task_table import task_module

OPSET = 18
TARGETS = ("labels", "tags")  # training targets: collate adds them, forward never reads them
SHORTCUTS = ("char_rows", "char_of")  # a faster form of chars for torch's inference: the graph reads chars


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


def _translations() -> dict:
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
def _exportable(model: nn.Module):
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


@dataclass
class Graph:
    """One network to export: module(*args), its input and output names, and per input its dynamic axes
    ({axis: name}; one name is one size across inputs)."""
    module: nn.Module
    args: tuple
    inputs: list[str]
    outputs: list[str]
    axes: list[dict[int, str]]


class _Network(nn.Module):
    """model.forward(batch dict) as a function of positional tensors, which is what an export traces."""

    def __init__(self, model: nn.Module, names: list[str]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *tensors):
        return self.model(dict(zip(self.names, tensors)))


def example_batch(predictor) -> dict:
    """A batch of two made from the task's card example, the whole text and its first half: two rows and two
    lengths, because torch.export fixes any axis whose example size is 0 or 1."""
    words = predictor.words(task_module(predictor.config["task"]).CARD[2])
    if len(words) < 3:
        raise ValueError(f"the card example of {predictor.config['task']!r} is too short to trace")
    ones = [predictor.encode(" ".join(ws))[1] for ws in (words, words[:len(words) // 2 + 1])]
    batch = {}
    for key in ones[0]:
        if key in TARGETS or key in SHORTCUTS:
            continue
        shape = [max(t[key].size(d) for t in ones) for d in range(ones[0][key].dim())]
        # every id tensor pads with 0 (<pad>), whatever its rank; lengths (1,) just join
        batch[key] = torch.cat([F.pad(t[key], [p for d in reversed(range(len(shape)))
                                              for p in (0, shape[d] - t[key].size(d))]) for t in ones])
    return batch


def text_graphs(predictor) -> dict[str, Graph]:
    """The graph of a text task, whose model.forward(batch) -> scores is the whole network (NER, sentiment)."""
    batch = example_batch(predictor)
    names = list(batch)
    axes = [{0: "batch", **({1: "length"} if batch[k].dim() > 1 else {}),
             **{d: f"{k}_{d}" for d in range(2, batch[k].dim())}} for k in names]
    return {TEXT_GRAPH: Graph(_Network(predictor.model, names), tuple(batch.values()), names, ["scores"], axes)}


def graphs(predictor) -> dict[str, Graph]:
    """The task's own graphs (its module's onnx_graphs, e.g. tasks/caption_onnx.py), or text_graphs."""
    task = task_module(predictor.config["task"])
    return getattr(task, "onnx_graphs", text_graphs)(predictor)


@contextlib.contextmanager
def _quiet():
    """torch.onnx prints progress lines to stdout and logs warnings about packages these graphs do not
    need (torchvision); the export command's stdout is one JSON line."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings(), contextlib.redirect_stdout(open(os.devnull, "w")) as devnull:
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)
            devnull.close()


def write_graphs(predictor, folder) -> dict:
    """Write each of the predictor's graphs to folder/NAME.onnx (weights inside). -> the "onnx" record
    config.json keeps: {"graphs": {name: file}, "opset", "torch"}."""
    onnx_run.require("onnx", "onnxscript")  # the exporter's own needs, said with the install line
    model = predictor.model.eval()
    files = {}
    with _quiet(), _exportable(model), torch.no_grad():
        for name, g in graphs(predictor).items():
            dims = {}  # one torch.export.Dim per axis name, shared by the inputs that name it
            shapes = tuple({a: dims.setdefault(n, torch.export.Dim(n)) for a, n in ax.items()} for ax in g.axes)
            try:
                program = torch.onnx.export(g.module, g.args, dynamo=True, input_names=g.inputs,
                                            output_names=g.outputs, dynamic_shapes={"tensors": shapes},
                                            opset_version=OPSET, custom_translation_table=_translations(),
                                            verbose=False)
            except Exception as e:  # the exporter's report is pages long; its first line says what failed
                raise ValueError(f"ONNX export of {predictor.name}'s {name} graph failed: {type(e).__name__}: "
                                 f"{str(e).strip().splitlines()[0][:300]}") from None
            program.save(str(Path(folder) / f"{name}.onnx"), external_data=False)
            files[name] = f"{name}.onnx"
    return {"graphs": files, "opset": OPSET, "torch": torch.__version__}


def to_onnx(predictor, out, precision: str = "fp32") -> Path:
    """Write an exported checkpoint folder: the graphs (int8: quantized by onnxruntime, zoo/onnx_run.py),
    config.json with its "onnx" record, and the checkpoint's tokenizer.json and model.safetensors. Written
    to a temporary folder and renamed, like a checkpoint, so it is never half-written."""
    if precision not in checkpoint.EXPORT_PRECISIONS:
        raise ValueError(f"an ONNX export is fp32 or int8, not {precision!r} (bf16 runs on the torch runtime)")
    if getattr(predictor, "runtime", "torch") != "torch" or getattr(predictor, "precision", "fp32") != "fp32":
        raise ValueError(f"{predictor.name!r} is already exported or set to another precision; export the "
                         "checkpoint as loaded in fp32")
    out = Path(out)
    if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
        raise ValueError(f"{out} exists and is not an empty folder; remove it or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        record = {**write_graphs(predictor, tmp), "precision": precision}
        if precision == "int8":  # quantized for this CPU; zoo.load warns on one where that can saturate
            for file in record["graphs"].values():
                record["reduce_range"] = onnx_run.quantize_int8(tmp / file, tmp / file)
        config = {**predictor.config, "onnx": record}
        (tmp / checkpoint.CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for name in (checkpoint.WEIGHTS, *checkpoint.TEXT_FILES):
            if (predictor.folder / name).is_file():
                shutil.copyfile(predictor.folder / name, tmp / name)
        checkpoint.open_as_umask_allows(tmp)
        if out.exists():  # an empty folder, checked above
            out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
