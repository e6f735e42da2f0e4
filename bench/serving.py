"""Serving the bundled models: what bf16 and int8 do to test scores and speed, and the predict command's throughput.

    OMP_NUM_THREADS=1 python bench/serving.py                     # all of it (tens of minutes on 2 cores)
    OMP_NUM_THREADS=1 python bench/serving.py --models ner-bilstm --skip-scores

Run it on an otherwise idle machine (no training): every figure is a wall-clock time. It prints, in order:
1. The CPU: torch's kernel level and the flags the precision choices read (zoo/cpu.py).
2. Test scores per model and precision, each from `python -m zoo evaluate NAME --data DATA --split test
   --precision P` run as a subprocess (the command as users run it), and the change against fp32 in points;
   plus torch.ao's dynamic quantization (deprecated, not offered by zoo.load) evaluated in process, as the
   reference the int8 route was chosen against.
3. Speed: inputs/s at batch 1 (predict, one call per input) and batch 64 (predict_batch), the precisions
   interleaved round by round in one process, as ratios against fp32. Inputs: CoNLL-2003 validation
   sentences (ner-*), SST-2 validation sentences (sentiment-*), Flickr8k test images' stored features
   (caption-*; image encoding is not timed), IMDB test reviews (imdb-*), a fixed random sample (seed 0).
4. `python -m zoo predict ner-bilstm --input FILE --batch-size B` on the CoNLL-2003 test sentences, one per
   line: wall-clock sentences/s at batch 1 and 64, with and without the process's start and model load.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import zoo  # noqa: E402
from zoo import cpu, registry  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
DATA = ROOT.parent / "shared" / "datasets"
MODELS = [f"{t}-{a}" for t in ("ner", "sentiment", "imdb", "caption") for a in ("rnn", "lstm", "bilstm")]
# by the bundled name's first part (imdb-* are sentiment models read from IMDB)
TEST_DATA = {"ner": "conll2003", "sentiment": "sst2", "imdb": "imdb", "caption": "flickr8k"}
METRIC = {"ner": "f1", "sentiment": "accuracy", "imdb": "accuracy", "caption": "bleu4"}
AO = "torch.ao int8"  # the reference column


PRECISIONS = ["fp32", "bf16", "int8"]


def ref(name: str) -> str:
    """The bundled name, or its folder while its files differ from MANIFEST.json (a checkpoint being
    rewritten by another change): the same weights, loaded without the manifest check."""
    try:
        registry.resolve(name)
        return name
    except zoo.IntegrityError:
        return str(Path("zoo") / "checkpoints" / name)


def torch_ao_int8(name: str):
    """The bundled model with torch's own (deprecated) dynamic quantization of its LSTMs and Linear layers
    (it has no int8 nn.RNN). Not the sentiment head: SentimentModel reads the device from head.weight, a
    method once quantized."""
    p = zoo.load(ref(name))
    spec = {n: torch.ao.quantization.default_dynamic_qconfig for n, m in p.model.named_modules()
            if isinstance(m, (nn.LSTM, nn.Linear)) and not (name.startswith(("sentiment", "imdb")) and n == "head")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation notice; the point of this column is to measure it anyway
        p.model = torch.ao.quantization.quantize_dynamic(p.model, spec, dtype=torch.qint8)
    return p


def evaluate_cli(name: str, precision: str) -> tuple[float, str]:
    task = name.split("-")[0]
    cmd = [sys.executable, "-m", "zoo", "evaluate", ref(name), "--data", f"../shared/datasets/{TEST_DATA[task]}",
           "--split", "test", "--precision", precision]
    print("  $", " ".join(cmd[1:]), file=sys.stderr, flush=True)
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if run.returncode:
        return float("nan"), run.stderr.strip().splitlines()[-1]
    return json.loads(run.stdout.strip().splitlines()[-1])["metrics"][METRIC[task]], ""


def scores(models: list[str], precisions: list[str]) -> None:
    from zoo import data

    print("\n## Test scores (change against fp32, points; - not measured in this run)\n")
    print(f"| model | metric | fp32 | bf16 | int8 | {AO} |\n|---|---|---:|---:|---:|---:|")
    for name in models:
        task = name.split("-")[0]
        got = {prec: evaluate_cli(name, prec) for prec in ["fp32"] + [p for p in PRECISIONS[1:] if p in precisions]}
        if AO in precisions:
            split = data.load(str(DATA / TEST_DATA[task]))[0]["test"]
            got[AO] = (torch_ao_int8(name).evaluate(split)[METRIC[task]], "")
        base = got["fp32"][0]
        cells = ["-" if p not in got else f"{got[p][0] - base:+.2f}" if not got[p][1] else "error"
                 for p in ("bf16", "int8", AO)]
        print(f"| {name} | {METRIC[task]} | {base:.2f} | " + " | ".join(cells) + " |", flush=True)
        for p, (_, err) in got.items():
            if err:
                print(f"  {name} {p}: {err}")


def inputs(name: str, n: int) -> list:
    task = name.split("-")[0]
    rng = random.Random(0)
    if task == "ner":
        xs = [s for s in pq.read_table(DATA / "conll2003" / "validation.parquet", columns=["tokens"])
              .column("tokens").to_pylist() if s]
    elif task == "sentiment":
        xs = pq.read_table(DATA / "sst2" / "validation.parquet", columns=["sentence"]).column("sentence").to_pylist()
    elif task == "imdb":  # no validation split: test reviews, for speed only (the scores read the whole split)
        xs = pq.read_table(DATA / "imdb" / "test.parquet", columns=["text"]).column("text").to_pylist()
    else:
        xs = [np.asarray(f, dtype=np.float32) for f in pq.read_table(
            DATA / "flickr8k" / "test.parquet", columns=["efficientnet_lite0"]).column("efficientnet_lite0").to_pylist()]
    return rng.sample(xs, min(n, len(xs)))


def speed(models: list[str], rounds: int, n1: int, n64: int) -> None:
    print("\n## Speed (inputs/s; the other columns as ratios against fp32)\n")
    print(f"| model | batch | fp32 inputs/s | bf16 | int8 | {AO} |\n|---|---:|---:|---:|---:|---:|")
    for name in models:
        cap = name.startswith("caption")
        k1, k64 = (max(1, n1 // 8), 1) if cap else (n1, n64)
        xs = inputs(name, k1 + 64 * k64)
        one, many = xs[:k1], [xs[k1 + 64 * i:k1 + 64 * (i + 1)] for i in range(k64)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            preds = {p: zoo.load(ref(name), precision=p) for p in PRECISIONS}
        preds[AO] = torch_ao_int8(name)
        secs = {p: {1: 0.0, 64: 0.0} for p in preds}
        for p in preds.values():  # warm-up
            p.predict(one[0])
            p.predict_batch(many[0][:8], batch_size=8)
        for r in range(rounds):
            for key in (list(preds) if r % 2 == 0 else list(preds)[::-1]):
                p = preds[key]
                t0 = time.perf_counter()
                for x in one:
                    p.predict(x)
                secs[key][1] += time.perf_counter() - t0
                t0 = time.perf_counter()
                for b in many:
                    p.predict_batch(b, batch_size=64)
                secs[key][64] += time.perf_counter() - t0
        for bs, count in ((1, len(one)), (64, 64 * len(many))):
            rate = {k: rounds * count / secs[k][bs] for k in secs}
            cells = [f"{rate[k] / rate['fp32']:.2f}x" for k in ("bf16", "int8", AO)]
            print(f"| {name} | {bs} | {rate['fp32']:,.0f} | " + " | ".join(cells) + " |", flush=True)


def predict_command() -> None:
    sents = [" ".join(s) for s in pq.read_table(DATA / "conll2003" / "test.parquet", columns=["tokens"])
             .column("tokens").to_pylist() if s]
    print(f"\n## python -m zoo predict ner-bilstm, CoNLL-2003 test ({len(sents):,} sentences, one per line)\n")
    print("| batch | wall s | sentences/s | without start and load: s | sentences/s |\n|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        src, one = Path(tmp) / "conll_test.txt", Path(tmp) / "one.txt"
        src.write_text("\n".join(sents) + "\n", encoding="utf-8")
        one.write_text(sents[0] + "\n", encoding="utf-8")

        def wall(path, bs):
            cmd = [sys.executable, "-m", "zoo", "predict", ref("ner-bilstm"), "--input", str(path), "--output",
                   os.devnull, "--batch-size", str(bs), "--progress", "off"]
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
            return time.perf_counter() - t0

        for bs in (1, 64):
            total, start = wall(src, bs), wall(one, bs)  # start: the same command on one sentence
            print(f"| {bs} | {total:.1f} | {len(sents) / total:,.0f} | {total - start:.1f} | "
                  f"{len(sents) / (total - start):,.0f} |", flush=True)
        print("\ncommand: python -m zoo predict ner-bilstm --input conll_test.txt --output /dev/null --batch-size B")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n1", type=int, default=100, help="batch-1 calls per model per round (captions: an eighth)")
    ap.add_argument("--n64", type=int, default=4, help="batches of 64 per model per round (captions: one)")
    ap.add_argument("--skip-scores", action="store_true")
    ap.add_argument("--precisions", nargs="+", default=PRECISIONS[1:] + [AO], choices=PRECISIONS[1:] + [AO],
                    help="the test scores to measure besides fp32's")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-command", action="store_true")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {cpu.describe()}")
    print(f"native bf16: {cpu.native_bf16()}; VNNI (int8 weights in 8 bits, not 7): {cpu.has_vnni()}")
    if not args.skip_scores:
        scores(args.models, args.precisions)
    if not args.skip_speed:
        speed(args.models, args.rounds, args.n1, args.n64)
    if not args.skip_command:
        predict_command()


if __name__ == "__main__":
    main()
