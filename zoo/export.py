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

The recurrent layers are exported as seqzoo ops, each written out as one ONNX LSTM or RNN node (zoo/onnx_ops.py:
why); the encoder on its padded route (the same numbers as the packed one, tests/test_encoder_and_checkpoint.py).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoint, onnx_run
from .integrity import sha256_file
from .onnx_ops import exportable, translations
from .onnx_run import TEXT_GRAPH
from .task_table import task_module

OPSET = 18
TARGETS = ("labels", "tags")  # training targets: collate adds them, forward never reads them
SHORTCUTS = ("char_rows", "char_of")  # a faster form of chars for torch's inference: the graph reads chars


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
    with _quiet(), exportable(model), torch.no_grad():
        for name, g in graphs(predictor).items():
            dims = {}  # one torch.export.Dim per axis name, shared by the inputs that name it
            shapes = tuple({a: dims.setdefault(n, torch.export.Dim(n)) for a, n in ax.items()} for ax in g.axes)
            try:
                program = torch.onnx.export(g.module, g.args, dynamo=True, input_names=g.inputs,
                                            output_names=g.outputs, dynamic_shapes={"tensors": shapes},
                                            opset_version=OPSET, custom_translation_table=translations(),
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
    where = getattr(predictor, "folder", predictor.name)
    if getattr(predictor, "runtime", "torch") != "torch":
        raise ValueError(f"{where} is already an ONNX export; export the checkpoint it came from")
    if getattr(predictor, "precision", "fp32") != "fp32":
        raise ValueError(f"{where} is loaded in {predictor.precision}; export it loaded as it is (fp32): an export "
                         "is fp32 or int8 (precision='int8', --precision int8)")
    out = Path(out)
    if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
        what = "a link" if out.is_symlink() else "a folder with files in it" if out.is_dir() else "a file"
        raise ValueError(f"{out} exists and is {what}; an export writes a new folder: choose another --out"
                         + (" (or remove it)" if what != "a file" else ""))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as e:  # read-only, no permission, not a folder: the folder the user named, not our temporary one
        raise ValueError(f"cannot write the export to {out} ({e.strerror or type(e).__name__})") from None
    try:
        record = {**write_graphs(predictor, tmp), "precision": precision}
        if precision == "int8":  # quantized for this CPU; zoo.load warns on one where that can saturate
            for file in record["graphs"].values():
                record["reduce_range"] = onnx_run.quantize_int8(tmp / file, tmp / file)
        # each graph's digest, as written: another model's graph of the same task has the same inputs and
        # outputs, so only its bytes tell it apart (onnx_run.folder_sessions checks them)
        record["sha256"] = {name: sha256_file(tmp / file) for name, file in record["graphs"].items()}
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
