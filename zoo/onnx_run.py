"""Running an exported network in onnxruntime, as the forward of the task's own model.

zoo.load on a folder written by zoo/export.py (its config.json has an "onnx" record) builds the task's model
as for any checkpoint, then replaces that model's forward with an onnxruntime session of model.onnx.
Everything around forward is the task's own Python, unchanged: tokenizing, batching by length, the CRF's
Viterbi decoding, the softmax, the results. onnxruntime is an optional extra: pip install -e ".[onnx]".
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import torch

from . import cpu
from .checkpoint import CONFIG, CheckpointError

INSTALL = 'pip install -e ".[onnx]"'


def _ort():
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(f"onnxruntime is not installed; {INSTALL}") from None
    return onnxruntime


def session(path):
    """An onnxruntime CPU session of the ONNX file at path."""
    ort = _ort()
    opts = ort.SessionOptions()
    # as many threads as torch has (OMP_NUM_THREADS): left alone onnxruntime takes every core, and the zoo's
    # models are small enough that extra threads mostly spin against other processes (tests/conftest.py)
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.inter_op_num_threads = 1
    # errors only: its warning on every run that an output's declared shape was a guess is noise here
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def folder_session(folder: Path, record) -> object:
    """The session of an exported folder's network, from config.json's "onnx" record; CheckpointError for a
    record naming no file of the folder, or a file onnxruntime cannot load."""
    folder = Path(folder)
    name = record.get("file") if isinstance(record, dict) else None
    path = folder / str(name or "")
    if not isinstance(name, str) or not path.is_file() or path.parent != folder:
        raise CheckpointError(f"{folder / CONFIG}: its \"onnx\" record names no ONNX file of the folder ({name!r})")
    try:
        return session(path)
    except ImportError:
        raise
    except Exception as e:  # onnxruntime's own error types (InvalidGraph, Fail, ...): one line naming the file
        raise CheckpointError(f"{path}: onnxruntime cannot load it ({type(e).__name__}: {str(e)[:200]})") from None


class OrtForward:
    """model.forward(batch) -> scores, computed by the session from the batch tensors it names as inputs."""

    def __init__(self, sess):
        self.session = sess
        self.inputs = [i.name for i in sess.get_inputs()]

    def __call__(self, batch: dict) -> torch.Tensor:
        missing = [k for k in self.inputs if k not in batch]
        if missing:
            raise ValueError(f"the exported network needs {', '.join(missing)}, which the batch lacks")
        feed = {k: batch[k].cpu().numpy() for k in self.inputs}
        return torch.from_numpy(self.session.run(None, feed)[0])


def attach(model: torch.nn.Module, sess) -> torch.nn.Module:
    """Make the session model's forward (an instance attribute, which nn.Module's call looks up first)."""
    model.forward = OrtForward(sess)
    return model


def quantize_int8(src, dst) -> bool:
    """onnxruntime's dynamic quantization: the weights of LSTM nodes and MatMuls as int8, activations
    quantized per call. The vanilla RNN's node has no int8 kernel, so for it only the MatMuls around it are.
    Weights get 7 bits on a CPU without VNNI, whose u8 x s8 dot product (VPMADDUBSW) can saturate with full
    8-bit weights (onnxruntime's advice, reduce_range), and 8 with VNNI, decided from this CPU's flags.
    -> whether the range was reduced."""
    _ort()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src), Path(dst)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=dst.parent)
    os.close(fd)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to run a pre-processing step is logged at WARNING on every call
    try:
        reduce_range = not cpu.has_vnni()
        quantize_dynamic(src, tmp, weight_type=QuantType.QInt8, reduce_range=reduce_range)
        os.replace(tmp, dst)
        return reduce_range
    finally:
        root.setLevel(level)
        if os.path.exists(tmp):
            os.remove(tmp)
