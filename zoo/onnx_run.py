"""Running exported networks in onnxruntime, as methods of the task's own model.

zoo.load on a folder written by zoo/export.py (its config.json has an "onnx" record) builds the task's model
as for any checkpoint, then replaces the methods the graphs stand for with onnxruntime sessions: a text
model's forward (model.onnx), a caption model's start, step and forward (tasks/caption_onnx.py). Everything
around them is the task's own Python, unchanged: tokenizing, batching by length, the CRF's Viterbi
decoding, beam search, the results. onnxruntime is an optional extra: pip install -e ".[onnx]".
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from . import cpu
from .checkpoint import CONFIG, CheckpointError, own_file
from .integrity import sha256_file

TEXT_GRAPH = "model"  # zoo/export.py's name for a text model's one graph

INSTALL = 'pip install -e ".[onnx]"'
INT8_OPS = ("MatMul", "LSTM")  # what int8 quantizes (quantize_int8), the LSTM node last; onnxruntime's dynamic
# quantization has no Gemm (a 2-D Linear layer's node, as sentiment's output layer) and leaves it float32


def _ort():
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(f"onnxruntime is not installed; {INSTALL}") from None
    return onnxruntime


def require(*modules: str) -> None:
    """The onnx extra's other packages (onnx, onnxscript), as an ImportError that says how to install them."""
    import importlib.util
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed; {INSTALL}")


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


def folder_sessions(folder: Path, record) -> dict:
    """The sessions of an exported folder's graphs, by name, from config.json's "onnx" record; CheckpointError
    for a record naming no file of the folder, or a file onnxruntime cannot load."""
    folder = Path(folder)
    files = record.get("graphs") if isinstance(record, dict) else None
    if not isinstance(files, dict) or not files:
        raise CheckpointError(f"{folder / CONFIG}: its \"onnx\" record names no graphs")
    digests = record.get("sha256", {})
    if not isinstance(digests, dict):
        raise CheckpointError(f"{folder / CONFIG}: its \"onnx\" record's sha256 is not a table of graph digests")
    sessions = {}
    for name, file in files.items():
        path = folder / str(file)
        if not isinstance(file, str) or path.parent != folder or own_file(folder, file) is None:
            raise CheckpointError(f"{folder / CONFIG}: its \"onnx\" record names no ONNX file of the folder ({file!r})")
        try:
            sessions[name] = session(path)
        except ImportError:
            raise
        except Exception as e:  # onnxruntime's own error types (InvalidGraph, Fail, ...): one line naming the file
            raise CheckpointError(f"{path}: onnxruntime cannot load it ({type(e).__name__}: {str(e)[:200]})") from None
        digest = digests.get(name)  # exports before digests were recorded have none
        if digest is not None and sha256_file(path) != digest:
            raise CheckpointError(f"{path}: not the {name} graph this folder was exported with (its sha256 differs "
                                  f"from config.json's); export the checkpoint again")
    return sessions


def check_graphs(folder: Path, record: dict, sessions: dict, wanted: dict) -> None:
    """The graphs of an exported folder fit its task before anything is predicted: every graph the task runs
    is there (wanted: name -> (input names, output names), zoo.export.graphs), with those inputs and outputs
    and float outputs. Else a CheckpointError naming config.json or the graph's file: a folder whose record
    or graphs were swapped would otherwise load and then fail on every prediction."""
    folder = Path(folder)
    missing = sorted(set(wanted) - set(sessions))
    if missing:
        raise CheckpointError(f"{folder / CONFIG}: its \"onnx\" record has no {', '.join(missing)} graph(s); "
                              f"the task runs {', '.join(sorted(wanted))}")
    for name, (inputs, outputs) in wanted.items():
        sess, path = sessions[name], folder / record["graphs"][name]
        got_in, got_out = [i.name for i in sess.get_inputs()], sess.get_outputs()
        if sorted(got_in) != sorted(inputs) or [o.name for o in got_out] != list(outputs):
            raise CheckpointError(f"{path}: takes {', '.join(got_in)} and gives {', '.join(o.name for o in got_out)}; "
                                  f"the {name} graph takes {', '.join(inputs)} and gives {', '.join(outputs)}")
        if any(o.type != "tensor(float)" for o in got_out):
            raise CheckpointError(f"{path}: its outputs are {', '.join(o.type for o in got_out)}, not float")


def _array(t: torch.Tensor):
    """A CPU tensor's NumPy view (one call: at batch 1 the conversions around a run add up), else a copy."""
    return t.numpy() if t.device.type == "cpu" and not t.requires_grad else t.detach().cpu().numpy()


def run(sess, **inputs) -> list[torch.Tensor]:
    """One call of a session on named tensors -> its outputs as torch tensors."""
    return [torch.from_numpy(o) for o in sess.run(None, {k: _array(v) for k, v in inputs.items()})]


class OrtForward:
    """A text model's forward(batch) -> scores, computed by its session from the batch tensors it names."""

    def __init__(self, sess):
        self.session = sess
        self.inputs = [i.name for i in sess.get_inputs()]
        self.outputs = [sess.get_outputs()[0].name]  # the scores: only they are computed and copied out

    def __call__(self, batch: dict) -> torch.Tensor:
        try:
            try:
                feed = {k: batch[k].numpy() for k in self.inputs}  # CPU tensors without gradients: views
            except (RuntimeError, TypeError):
                feed = {k: _array(batch[k]) for k in self.inputs}
        except KeyError:
            missing = [k for k in self.inputs if k not in batch]
            raise ValueError(f"the exported network needs {', '.join(missing)}, which the batch lacks") from None
        return torch.from_numpy(self.session.run(self.outputs, feed)[0])

    def arrays(self, feed: dict):
        """The scores from NumPy inputs, as a NumPy array: for a caller that keeps one input in NumPy end to end."""
        return self.session.run(self.outputs, {k: feed[k] for k in self.inputs})[0]


def attach(model: torch.nn.Module, task, sessions: dict) -> torch.nn.Module:
    """Make the sessions the model's methods: the task module's onnx_attach where it has one (captions),
    else the one graph is forward (an instance attribute, which nn.Module's call looks up first)."""
    if hasattr(task, "onnx_attach"):
        return task.onnx_attach(model, sessions)
    model.forward = OrtForward(sessions[TEXT_GRAPH])
    return model


def quantize_int8(src, dst, lstm: bool = True) -> bool:
    """onnxruntime's dynamic quantization of the MatMul and LSTM nodes: their weights as int8, activations
    quantized per call (so an answer can move a little with what else is in its batch). onnxruntime's
    pre-processing first folds the constants, so the LSTM node's weights (computed by the gate reordering)
    become stored ones it can quantize (DynamicQuantizeLSTM); lstm=False leaves that node float32, as does
    a graph the pre-processing fails on (quantized as it is, with a warning). The vanilla RNN's node has no
    int8 kernel in onnxruntime. Embedding tables (Gather) stay float32: once folded they would be quantized
    too, which cost `ner-bilstm` about a point of validation F1 (89.89 against 90.85, python
    bench/int8_lstm.py --gather; the MatMuls and the LSTM node alone 90.83). Weights get 7 bits on a CPU without VNNI, whose u8 x s8 dot product (VPMADDUBSW) can
    saturate with full 8-bit weights (onnxruntime's advice, reduce_range), and 8 with VNNI, decided from
    this CPU's flags. -> whether the range was reduced."""
    _ort()
    require("onnx")
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src, dst = Path(src), Path(dst)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=dst.parent)
    os.close(fd)
    pre = tmp[:-5] + ".pre.onnx"
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to run the pre-processing is logged at WARNING on every call
    try:
        try:
            quant_pre_process(str(src), pre, skip_symbolic_shape=True)  # (symbolic shapes fail on the taggers)
        except Exception as e:  # onnxruntime's own errors: int8 without the folding, the LSTM node float32
            warnings.warn(f"{src.name}: onnxruntime's pre-processing failed ({type(e).__name__}: {str(e)[:200]}); "
                          "quantizing its MatMuls only", RuntimeWarning, stacklevel=2)
            shutil.copyfile(src, pre)
        reduce_range = not cpu.has_vnni()
        quantize_dynamic(pre, tmp, weight_type=QuantType.QInt8, reduce_range=reduce_range,
                         op_types_to_quantize=list(INT8_OPS if lstm else INT8_OPS[:-1]))
        os.replace(tmp, dst)
        return reduce_range
    finally:
        root.setLevel(level)
        for leftover in (tmp, pre):
            if os.path.exists(leftover):
                os.remove(leftover)
