"""What int8 should quantize in an LSTM model: onnxruntime's int8 as zoo.load builds it (the MatMul and LSTM
nodes, onnx_run.quantize_int8) against the same with the LSTM node left float32 (lstm=False), and with --gather
also the embedding tables quantized (onnxruntime's default once constants are folded), for the bundled LSTM
and BiLSTM models: validation score, and inputs/s at batch 1 and 64 with the variants interleaved round by
round in one process, one thread.

    OMP_NUM_THREADS=1 python bench/int8_lstm.py [--models ner-bilstm sentiment-lstm] [--rounds 3] [--gather]

Inputs: CoNLL-2003 validation (ner-*) and SST-2 validation (sentiment-*): batch 64 on all of it, batch 1 on
200 inputs sampled with seed 0. The vanilla RNN is left out: onnxruntime has no int8 kernel for its node.
"""
from __future__ import annotations

import argparse
import functools
import os
import random
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import torch  # noqa: E402

import zoo  # noqa: E402
from zoo import cpu, data, onnx_run  # noqa: E402
from peer_common import race  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
DATA = ROOT.parent / "shared" / "datasets"


def load_int8(name: str, lstm: bool, ops: tuple = onnx_run.INT8_OPS):
    plain, plain_ops = onnx_run.quantize_int8, onnx_run.INT8_OPS
    onnx_run.quantize_int8, onnx_run.INT8_OPS = functools.partial(plain, lstm=lstm), ops
    try:
        return zoo.load(name, precision="int8")
    finally:
        onnx_run.quantize_int8, onnx_run.INT8_OPS = plain, plain_ops


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=[f"{t}-{a}" for t in ("ner", "sentiment") for a in ("lstm", "bilstm")])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--gather", action="store_true", help="also the embedding tables quantized (Gather)")
    args = p.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {cpu.describe()}")
    print("| model | int8 quantizes | validation score | batch 1 inputs/s | batch 64 inputs/s |\n|---|---|---:|---:|---:|")
    for name in args.models:
        task = name.split("-")[0]
        split = data.load(str(DATA / ("conll2003" if task == "ner" else "sst2")))[0]["validation"]
        inputs = [list(t) for t in split["tokens"] if t] if task == "ner" else list(split["sentence"])
        one = random.Random(0).sample(range(len(inputs)), 200)
        models = {"MatMuls, LSTM node (zoo.load)": load_int8(name, True), "MatMuls only": load_int8(name, False)}
        if args.gather:
            models["MatMuls, LSTM node, embedding tables"] = load_int8(name, True, ("Gather",) + onnx_run.INT8_OPS)
        p1 = {k: (lambda m=m: [m.predict(inputs[i]) for i in one]) for k, m in models.items()}
        p64 = {k: (lambda m=m: m.predict_batch(inputs, batch_size=64)) for k, m in models.items()}
        t1, t64 = race(p1, args.rounds), race(p64, args.rounds)
        for k, m in models.items():
            score = m.evaluate(split)["f1" if task == "ner" else "accuracy"]
            print(f"| {name} | {k} | {score:.2f} | {len(one) / t1[k]:,.0f} | {len(inputs) / t64[k]:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
