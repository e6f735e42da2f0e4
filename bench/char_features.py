"""Why NER batches list their distinct words: the character CNN's features at inference computed for every
token place (chars) against once per distinct word of the batch (char_rows, char_of: tasks.ner_data.collate).

    OMP_NUM_THREADS=1 python bench/char_features.py [--model ner-rnn] [--batch 64] [--rounds 7]

CoNLL-2003 validation in predict_batch's length-sorted batches, one torch thread; the same features either
way (checked here too). Prints the CPU line, then one JSON line: ms per pass over the split, and the ratio.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import zoo  # noqa: E402
from tasks.ner_data import batches  # noqa: E402
from zoo import cpu, data  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="ner-rnn")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "conll2003"))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    print(f"# torch {torch.__version__}, 1 thread; {cpu.describe()}")
    ds, _ = data.load(args.data)
    predictor = zoo.load(args.model)
    embed = predictor.model.eval().embed
    examples = [predictor.featurize(list(t)) for t in ds["validation"]["tokens"] if t]
    distinct = [b for _, b in batches(examples, args.batch)]
    every = [{"chars": b["chars"]} for b in distinct]  # the same batches without the list of distinct words
    times = {"every_place": [], "distinct_words": []}
    with torch.no_grad():
        for b, e in zip(distinct, every):
            assert torch.equal(embed.char_features(b), embed.char_features(e))
        for _ in range(args.rounds):  # alternating, so both see the same machine
            for name, bs in (("every_place", every), ("distinct_words", distinct)):
                t0 = time.perf_counter()
                for b in bs:
                    embed.char_features(b)
                times[name].append(time.perf_counter() - t0)
    ms = {k: round(1e3 * statistics.median(v), 1) for k, v in times.items()}
    tokens = sum(int(b["lengths"].sum()) for b in distinct)
    rows = sum(len(b["char_rows"]) - 1 for b in distinct if "char_rows" in b)  # a batch of one lists none
    print(json.dumps({"model": args.model, "batch": args.batch, "tokens": tokens, "distinct_words": rows,
                      **{f"{k}_ms": v for k, v in ms.items()}, "speedup": round(ms["every_place"] / ms["distinct_words"], 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
