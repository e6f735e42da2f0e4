"""Why zoo.encoder runs batches padded: packed vs padded routes of RecurrentEncoder on the CPU, and why the
vanilla RNN infers on its own "steps" route.

    python bench/encoder_routes.py                       # IMDB-like batches: 64 texts of 150-230 words
    python bench/encoder_routes.py --batch 32 --min-len 10 --max-len 40   # CoNLL/SST-2-like
    python bench/encoder_routes.py --min-len 20 --max-len 24   # a batch of equal-ish lengths, as predict_batch makes

Same module, same weights, same batch; the routes alternate for --rounds rounds and the median is printed
(one torch thread). "train" is forward + backward; "infer" is forward under torch.no_grad(). For the RNN a
third line times inference on the "steps" route (input projections in one multiply, then a multiply-add and a
tanh per step) against packed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from zoo import cpu  # noqa: E402
from zoo.encoder import ARCHS, RecurrentEncoder  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--min-len", type=int, default=150)
    p.add_argument("--max-len", type=int, default=230)
    p.add_argument("--input", type=int, default=100, help="input (embedding) size")
    p.add_argument("--hidden", type=int, default=150)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"# {cpu.describe()}")
    print(f"# torch {torch.__version__}, 1 thread, batch {args.batch}, lengths {args.min_len}-{args.max_len}, "
          f"input {args.input}, hidden {args.hidden}")
    for arch in ARCHS:
        enc = RecurrentEncoder(arch, args.input, args.hidden).train()
        lengths = torch.randint(args.min_len, args.max_len + 1, (args.batch,))
        x = torch.randn(args.batch, int(lengths.max()), args.input, requires_grad=True)
        tokens = int(lengths.sum())
        times = {(r, m): [] for r in ("packed", "padded") for m in ("train", "infer")}
        for _ in range(args.rounds):
            for route in ("packed", "padded"):
                t0 = time.perf_counter()
                out, final = enc(x, lengths, route=route)
                (out.sum() + final.sum()).backward()
                times[route, "train"].append(time.perf_counter() - t0)
                with torch.no_grad():
                    t0 = time.perf_counter()
                    enc(x, lengths, route=route)
                    times[route, "infer"].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        for mode in ("train", "infer"):
            print(json.dumps({"arch": arch, "mode": mode,
                              "packed_tok_s": round(tokens / med["packed", mode]),
                              "padded_tok_s": round(tokens / med["padded", mode]),
                              "padded_speedup": round(med["packed", mode] / med["padded", mode], 2)}))
        if arch == "rnn":
            infer = {}
            enc.eval()  # the steps route is inference only
            with torch.no_grad():
                for route in ["packed", "steps"] * args.rounds:
                    t0 = time.perf_counter()
                    enc(x, lengths, route=route)
                    infer.setdefault(route, []).append(time.perf_counter() - t0)
            med = {k: statistics.median(v) for k, v in infer.items()}
            print(json.dumps({"arch": arch, "mode": "infer", "packed_tok_s": round(tokens / med["packed"]),
                              "steps_tok_s": round(tokens / med["steps"]),
                              "steps_speedup": round(med["packed"] / med["steps"], 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
