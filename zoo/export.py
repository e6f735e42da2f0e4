"""ONNX export: a text checkpoint's network as one ONNX graph, in a folder that is still a checkpoint.

    python -m zoo export ner-bilstm --format onnx --out exported/ner-bilstm [--precision int8]
    zoo.load("exported/ner-bilstm")   # the network runs in onnxruntime (zoo/onnx_run.py)

What is exported is the model's own forward(batch): the batch's id tensors and lengths in (word ids; for
NER also casing and character ids), one score per class (sentiment) or per tag per word (NER) out, with the
batch and length axes dynamic. What is not a tensor graph stays in Python around it, the same code as the
torch predictor's: the CRF's Viterbi decoding, the softmax, the formatting of results. That is why the
folder keeps model.safetensors (the CRF's transition scores live there) beside model.onnx, config.json
(with an "onnx" record) and tokenizer.json. Caption models are not exported yet (their decoders run one
step at a time inside Python's beam search, which would take a start and a step graph per direction).

The encoder is exported on its padded route (the same numbers as the packed one, tests/test_encoder_and_checkpoint.py)
with each direction of each layer as one seqzoo op, written out as one ONNX LSTM or RNN node. Left to itself,
torch.export computes the shapes of torch's LSTM/RNN kernels by running them step by step, which pins the
sequence length to the example's (the vanilla RNN even comes out unrolled into that many MatMuls), so the
graph would refuse any other length.
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
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import checkpoint
from .encoder import RecurrentEncoder
from .task_table import task_module

OPSET = 18
ONNX_FILE = "model.onnx"
TARGETS = ("labels", "tags")  # training targets: collate adds them, forward never reads them
EXPORTABLE = ("ner", "sentiment")


# One direction of one recurrent layer from a zero state, batch first: (B, T, I) -> (B, T, H). Eagerly it is
# torch's fused kernel (what RecurrentEncoder._direction runs); its shape function below says (B, T, H)
# without stepping through time, so T stays symbolic.
@torch.library.custom_op("seqzoo::lstm_direction", mutates_args=())
def lstm_direction(x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
    h0 = x.new_zeros(1, x.size(0), w_hh.size(1))
    return torch.lstm(x, (h0, h0), [w_ih, w_hh, b_ih, b_hh], True, 1, 0.0, False, False, True)[0]


@torch.library.custom_op("seqzoo::rnn_direction", mutates_args=())
def rnn_direction(x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
    h0 = x.new_zeros(1, x.size(0), w_hh.size(1))
    return torch.rnn_tanh(x, h0, [w_ih, w_hh, b_ih, b_hh], True, 1, 0.0, False, False, True)[0]


@lstm_direction.register_fake
@rnn_direction.register_fake
def _direction_shape(x, w_ih, w_hh, b_ih, b_hh):
    return x.new_empty(x.size(0), x.size(1), w_hh.size(1))


def _onnx_direction(x, w_ih, w_hh, b_ih, b_hh, lstm: bool):
    """The ONNX form of one direction (onnxscript, traced): ONNX's LSTM/RNN node, forward, from zero state."""
    from onnxscript import opset18 as op

    H = w_hh.shape[1]  # read from the parameter itself: the reordered copy below has no static shape
    if lstm:  # torch orders the gates i, f, g, o; ONNX i, o, f, g
        def reorder(w):
            i, f, g, o = op.Split(w, num_outputs=4, axis=0)
            return op.Concat(i, o, f, g, axis=0)
        w_ih, w_hh, b_ih, b_hh = reorder(w_ih), reorder(w_hh), reorder(b_ih), reorder(b_hh)
    W, R = op.Unsqueeze(w_ih, [0]), op.Unsqueeze(w_hh, [0])  # one direction: (1, gates * H, I), (1, gates * H, H)
    B = op.Unsqueeze(op.Concat(b_ih, b_hh, axis=0), [0])
    seq = op.Transpose(x, perm=[1, 0, 2])  # ONNX's default layout is time first
    Y = op.LSTM(seq, W, R, B, hidden_size=H)[0] if lstm else op.RNN(seq, W, R, B, hidden_size=H)[0]
    return op.Transpose(op.Squeeze(Y, [1]), perm=[1, 0, 2])  # (T, 1, B, H) -> (B, T, H)


def _onnx_lstm(x, w_ih, w_hh, b_ih, b_hh):  # plain functions: the exporter reads their signatures
    return _onnx_direction(x, w_ih, w_hh, b_ih, b_hh, lstm=True)


def _onnx_rnn(x, w_ih, w_hh, b_ih, b_hh):
    return _onnx_direction(x, w_ih, w_hh, b_ih, b_hh, lstm=False)


def _translations() -> dict:
    return {torch.ops.seqzoo.lstm_direction.default: _onnx_lstm, torch.ops.seqzoo.rnn_direction.default: _onnx_rnn}


def _direction_op(self: RecurrentEncoder, x, layer, suffix):
    """RecurrentEncoder._direction through the seqzoo ops (same weights, same numbers)."""
    params = [getattr(self.rnn, f"{w}_l{layer}{suffix}") for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    return (lstm_direction if isinstance(self.rnn, nn.LSTM) else rnn_direction)(x, *params)


@contextlib.contextmanager
def _exportable(model: nn.Module):
    """Inside: every RecurrentEncoder of model takes the padded route, its directions through the seqzoo ops.
    Set on the instances and taken off after, so the model is unchanged outside the block."""
    encoders = [m for m in model.modules() if isinstance(m, RecurrentEncoder)]
    for enc in encoders:
        enc.forward = functools.partial(RecurrentEncoder.forward, enc, route="padded")
        enc._direction = types.MethodType(_direction_op, enc)
    try:
        yield
    finally:
        for enc in encoders:
            del enc.forward, enc._direction


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
        if key in TARGETS:
            continue
        shape = [max(t[key].size(d) for t in ones) for d in range(ones[0][key].dim())]
        # every id tensor pads with 0 (<pad>), whatever its rank; lengths (1,) just join
        batch[key] = torch.cat([F.pad(t[key], [p for d in reversed(range(len(shape)))
                                              for p in (0, shape[d] - t[key].size(d))]) for t in ones])
    return batch


@contextlib.contextmanager
def _quiet():
    """torch.onnx prints progress lines to stdout and logs warnings about packages this graph does not
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


def network(predictor, path) -> dict:
    """Write the predictor's network to `path` (one ONNX file, weights inside). -> its "onnx" record:
    input and output names, opset, torch version."""
    task = predictor.config["task"]
    if task not in EXPORTABLE:
        raise ValueError(f"ONNX export covers {', '.join(EXPORTABLE)} models; {predictor.name!r} is a {task} model")
    batch = example_batch(predictor)
    names = list(batch)
    batch_dim, length_dim = torch.export.Dim("batch"), torch.export.Dim("length")
    shapes = tuple({0: batch_dim, **({1: length_dim} if batch[k].dim() > 1 else {}),
                    **{d: torch.export.Dim(f"{k}_{d}") for d in range(2, batch[k].dim())}} for k in names)
    model = predictor.model.eval()
    with _quiet(), _exportable(model), torch.no_grad():
        program = torch.onnx.export(_Network(model, names), tuple(batch[k] for k in names), dynamo=True,
                                    input_names=names, output_names=["scores"], dynamic_shapes={"tensors": shapes},
                                    opset_version=OPSET, custom_translation_table=_translations(), verbose=False)
        program.save(str(path), external_data=False)
    return {"file": Path(path).name, "inputs": names, "outputs": ["scores"], "opset": OPSET, "torch": torch.__version__}


def to_onnx(predictor, out, precision: str = "fp32") -> Path:
    """Write an exported checkpoint folder: model.onnx (int8: quantized by onnxruntime, zoo/onnx_run.py),
    config.json with its "onnx" record, and the checkpoint's tokenizer.json and model.safetensors. Written
    to a temporary folder and renamed, like a checkpoint, so it is never half-written."""
    from . import onnx_run

    if precision not in ("fp32", "int8"):
        raise ValueError(f"an ONNX export is fp32 or int8, not {precision!r} (bf16 runs on the torch runtime)")
    if getattr(predictor, "runtime", "torch") != "torch":
        raise ValueError(f"{predictor.name!r} is already exported; export the checkpoint it came from")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} exists and is not empty; remove it or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        record = network(predictor, tmp / ONNX_FILE)
        record["precision"] = precision
        if precision == "int8":  # quantized for this CPU; zoo.load warns on one where that can saturate
            record["reduce_range"] = onnx_run.quantize_int8(tmp / ONNX_FILE, tmp / ONNX_FILE)
        config = {**predictor.config, "onnx": record}
        (tmp / checkpoint.CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for name in (checkpoint.WEIGHTS, *checkpoint.TEXT_FILES):
            if (predictor.folder / name).is_file():
                shutil.copyfile(predictor.folder / name, tmp / name)
        if out.exists():  # an empty folder, checked above
            out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
