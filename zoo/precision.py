"""Inference precision: fp32 (as trained), bf16 (autocast) or int8 (onnxruntime's dynamic quantization).

    zoo.load("ner-bilstm", precision="int8")
    python -m zoo evaluate ner-bilstm --data ../shared/datasets/conll2003 --split test --precision bf16
    python -m zoo predict sentiment-lstm --input reviews.txt --precision int8

bf16: the recurrent and Linear layers run under torch.autocast(bfloat16) and hand float32 back, so what is
summed along a sentence (the CRF's Viterbi scores, beam search's log-probs) stays in float32. The encoder
takes its padded route (the same numbers in float32), because autocast covers torch's LSTM/RNN kernel on a
padded tensor but not on a packed sequence. bf16 only pays where the CPU has AMX (zoo.cpu.bf16_pays);
without native bf16 torch emulates it, and with AVX512-BF16 alone it measured slower than float32 too. Which
CPU this is is read from its flags at run time, never assumed: without AMX it runs anyway, with one warning
per process, so a command line or test written on one machine still works on another (docs/serving.md and
docs/benchmarks.md have the measured cost).

int8: torch's own dynamic quantization (torch.ao.quantization.quantize_dynamic) is deprecated in favour of
torchao, and torchao quantizes Linear layers, not LSTMs. onnxruntime's dynamic quantization is maintained,
so int8 means: the networks exported (zoo/export.py), their MatMul and LSTM nodes quantized by onnxruntime
and run there (zoo/onnx_run.py); loading takes a few seconds more (the export). The vanilla RNN's node and
the embedding tables stay float32 (see onnx_run.quantize_int8). Whether the weights use all 8 bits is also
decided from the CPU's flags (VNNI).
"""
from __future__ import annotations

import functools
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from . import cpu, devices
from .encoder import RecurrentEncoder, layer_params
from .tensor_key import kept

PRECISIONS = ("fp32", "bf16", "int8")
# A Linear layer with fewer outputs stays float32 under bf16: with 2 or 9 outputs (the sentiment and NER output
# layers) bf16 ran at 0.22-0.93x float32's speed at every batch size measured, with 512 or more (the caption
# decoder's) 2-5x faster from batch 64 (python bench/bf16_linear.py)
BF16_MIN_OUTPUTS = 64
_warned_bf16 = False


def _float(x):
    """Outputs back to float32 (tensors, packed sequences, tuples of them)."""
    if isinstance(x, torch.Tensor):
        return x.float() if x.is_floating_point() else x
    if isinstance(x, PackedSequence):
        return x._replace(data=x.data.float())
    if isinstance(x, tuple):
        return tuple(_float(v) for v in x)
    return x


def _in_bf16(forward):
    @functools.wraps(forward)
    def run(*args, **kwargs):
        with devices.autocast(torch.device("cpu"), "bf16"):
            out = forward(*args, **kwargs)
        return _float(out)
    return run


def _bf16_directions(enc: RecurrentEncoder):
    """enc._direction with bf16 copies of each layer's weights, made once and again when a weight changes:
    autocast would cast them on every call (4-6% of an SST-2 pass at batch 64), to the same values."""
    def direction(x, layer, suffix, params=None):
        params = params or layer_params(enc.rnn, layer, suffix)
        bf16 = kept(enc, "_bf16_copies", params, lambda: [w.to(torch.bfloat16) for w in params], slot=(layer, suffix))
        return RecurrentEncoder._direction(enc, x.to(torch.bfloat16), layer, suffix, bf16)
    return direction


def autocast_bf16(model: nn.Module) -> nn.Module:
    """Every recurrent encoder, LSTM/RNN and Linear layer of model computes in bf16, returning float32, but for
    Linear layers of fewer than BF16_MIN_OUTPUTS outputs (output layers of a few classes: slower in bf16)."""
    for m in model.modules():
        if isinstance(m, RecurrentEncoder):
            m._route = lambda batch_size, device: "padded"  # whatever the batch, encode included: autocast's route
            # the input cast once, before a BiLSTM reverses it, not once per direction: the same bf16 numbers
            m._padded = functools.partial(lambda enc, x, *a, **kw: RecurrentEncoder._padded(enc, x.to(torch.bfloat16), *a, **kw), m)
            m._direction = _bf16_directions(m)
            m.forward = _in_bf16(m.forward)
        elif isinstance(m, nn.RNNBase) or (isinstance(m, nn.Linear) and m.out_features >= BF16_MIN_OUTPUTS):
            m.forward = _in_bf16(m.forward)
    return model


def _warn_slow_bf16() -> None:
    global _warned_bf16
    if not cpu.bf16_pays() and not _warned_bf16:
        _warned_bf16 = True
        flags = ', '.join(cpu.flags()) or 'none'
        why = ("on a CPU with AVX512-BF16 but no AMX (its flags: {}): bf16 measured slower than fp32 on such a CPU"
               if cpu.native_bf16() else "on a CPU without native bf16 (no AMX-BF16 or AVX512-BF16 in its flags: "
               "{}): torch emulates it, expect it slower than fp32")
        warnings.warn(f"precision='bf16' {why.format(flags)}", RuntimeWarning, stacklevel=4)  # the caller of zoo.load


def _int8(predictor) -> None:
    """Quantize the predictor's graphs with onnxruntime and run them there."""
    from . import export, onnx_run
    from .task_table import task_module

    with tempfile.TemporaryDirectory(prefix="seqzoo-int8-") as tmp:
        if predictor.runtime == "onnxruntime":  # an exported folder: quantize its graphs as they are
            folder, files = predictor.folder, predictor.config["onnx"]["graphs"]
        else:
            try:
                folder, files = Path(tmp), export.write_graphs(predictor, tmp)["graphs"]
            except ValueError as e:
                raise ValueError(f"int8 runs the network exported to ONNX: {e}") from None
        sessions = {}
        for name, file in files.items():
            onnx_run.quantize_int8(folder / file, Path(tmp) / f"{name}.int8.onnx")
            sessions[name] = onnx_run.session(Path(tmp) / f"{name}.int8.onnx")  # read into memory here
    onnx_run.attach(predictor.model, task_module(predictor.config["task"]), sessions)
    predictor.runtime = "onnxruntime"


def apply(predictor, precision: str | None):
    """Set a loaded predictor to compute in `precision` (None: as it is, fp32 or an int8 export's int8); sets
    predictor.precision. The predictor's .runtime ("torch" or "onnxruntime") says where its network runs."""
    exported = (predictor.config.get("onnx") or {}).get("precision", "fp32") if predictor.runtime == "onnxruntime" else None
    if precision is None:
        precision = exported or "fp32"
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if exported == "int8" and precision != "int8":
        raise ValueError(f"{predictor.folder} holds an int8 network; load it with precision='int8' "
                         "(--precision int8) or export again")
    if precision == "bf16":
        if predictor.runtime != "torch":
            raise ValueError(f"bf16 runs on the torch runtime; {predictor.folder} is an ONNX export, load the "
                             "checkpoint it came from")
        _warn_slow_bf16()
        autocast_bf16(predictor.model)
    elif precision == "int8" and exported != "int8":
        _int8(predictor)
    elif exported == "int8" and not predictor.config["onnx"].get("reduce_range", True) and not cpu.has_vnni():
        warnings.warn(f"{predictor.folder} was quantized for a CPU with VNNI (8-bit weights); this CPU has none, "
                      "where its int8 dot products can saturate: export it again here", RuntimeWarning, stacklevel=3)
    predictor.precision = precision
    return predictor
