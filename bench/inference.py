"""Inference speed of the bundled models: sentences/s and p50/p99 latency at batch 1 and batch 64.

    OMP_NUM_THREADS=1 python bench/inference.py
    OMP_NUM_THREADS=1 python bench/inference.py --models ner-bilstm sentiment-bilstm --rounds 5

Inputs are real: CoNLL-2003 validation sentences (ner-*), SST-2 validation sentences (sentiment-*) and
Flickr8k test images' stored EfficientNet-Lite0 features (caption-*; image encoding is not timed), a fixed
random sample (seed 0). Batch 1 is the public API, zoo.load(name).predict(...), one call per sentence
(text -> tokens -> ids -> model -> result). Batch 64 is what tasks.*.evaluate does per batch: featurize +
collate + model (NER: decode with the CRF; sentiment: P(positive); captions: beam search with the
checkpoint's decoding settings). The models run in turn, round after round; latencies are pooled over rounds.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402

import zoo  # noqa: E402
from zoo import cpu  # noqa: E402
from app_latency import percentile  # noqa: E402  (one percentile for every bench script)
from tasks import caption_decode, ner, sentiment  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
DATA = ROOT.parent / "shared" / "datasets"
MODELS = [f"{t}-{a}" for t in ("ner", "sentiment", "caption") for a in ("rnn", "lstm", "bilstm")]


def sample(items: list, n: int) -> list:
    return random.Random(0).sample(items, min(n, len(items)))


def workloads(name: str, p, n1: int, n64: int):
    """-> (one(x) for batch 1, inputs for batch 1, many(xs) for batch 64, batches of 64)."""
    task = name.split("-")[0]
    if task == "ner":
        sents = [s for s in pq.read_table(DATA / "conll2003" / "validation.parquet", columns=["tokens"])
                 .column("tokens").to_pylist() if s]
        xs = sample(sents, n1 + 64 * n64)

        def many(batch):
            return p.model.decode(ner.collate([p.featurize(s) for s in batch]))
        return p.predict, xs[:n1], many, [xs[n1 + 64 * i: n1 + 64 * (i + 1)] for i in range(n64)]
    if task == "sentiment":
        xs = sample(pq.read_table(DATA / "sst2" / "validation.parquet", columns=["sentence"]).column("sentence")
                    .to_pylist(), n1 + 64 * n64)

        def many(batch):
            return p.model.prob_positive(sentiment.collate([{"words": p.vectorize.word_ids(p.words(t))} for t in batch]))
        return p.predict, xs[:n1], many, [xs[n1 + 64 * i: n1 + 64 * (i + 1)] for i in range(n64)]
    feats = pq.read_table(DATA / "flickr8k" / "test.parquet", columns=["efficientnet_lite0"]).column(
        "efficientnet_lite0").to_pylist()
    xs = [np.asarray(f, dtype=np.float32) for f in sample(feats, n1 + 64 * n64)]
    d = p.decode_cfg

    def many(batch):
        with torch.no_grad():
            return caption_decode.generate(p.model, torch.as_tensor(np.stack(batch)), d["beam"], d["max_len"], d["alpha"])
    return p.predict, xs[:n1], many, [xs[n1 + 64 * i: n1 + 64 * (i + 1)] for i in range(n64)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n1", type=int, default=100, help="batch-1 calls per model per round (captions: a quarter)")
    ap.add_argument("--n64", type=int, default=4, help="batches of 64 per model per round (captions: half)")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}; "
          f"{cpu.describe()}")
    work = {}
    for name in args.models:
        cap = name.startswith("caption")
        work[name] = workloads(name, zoo.load(name), args.n1 // 4 if cap else args.n1, max(1, args.n64 // 2) if cap else args.n64)
    lat = {k: {1: [], 64: []} for k in work}
    for name, (one, x1, many, x64) in work.items():  # warm-up
        one(x1[0])
        many(x64[0])
    for r in range(args.rounds):
        for name in (list(work) if r % 2 == 0 else list(work)[::-1]):
            one, x1, many, x64 = work[name]
            for x in x1:
                t0 = time.perf_counter()
                one(x)
                lat[name][1].append(time.perf_counter() - t0)
            for b in x64:
                t0 = time.perf_counter()
                many(b)
                lat[name][64].append(time.perf_counter() - t0)
    print("| model | batch | sentences/s | p50 ms | p99 ms | calls |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in work:
        for bs in (1, 64):
            t = np.array(lat[name][bs]) * 1000
            print(f"| {name} | {bs} | {bs * len(t) / (t.sum() / 1000):,.0f} | {percentile(t, 50):.2f} | "
                  f"{percentile(t, 99):.2f} | {len(t)} |")


if __name__ == "__main__":
    main()
