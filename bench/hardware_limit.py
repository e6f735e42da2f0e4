"""How close each recurrent layer comes to the machine's matrix-multiply peak, training and inference.

    OMP_NUM_THREADS=1 python bench/hardware_limit.py            # one thread, as the bundled models train
    OMP_NUM_THREADS=1 python bench/hardware_limit.py --rounds 7

FLOPs per token of one recurrent layer, counted from the sizes (G gates: 1 for the tanh RNN, 4 for the LSTM;
D directions; I input size, H hidden size; a multiply-add is 2 FLOPs):
    forward  = D * (2*I*G*H + 2*H*G*H)        training (forward + backward) = 3x that
(gate nonlinearities and biases are a few FLOPs per hidden unit, under 1% here, and are not counted).
The encoder (zoo.encoder.RecurrentEncoder, the routes the zoo uses: padded batches, the vanilla RNN's steps route at inference)
is timed alone on real sentence lengths (CoNLL-2003 / SST-2 training batches, SST-2 words split on spaces as
it is already tokenized; the bundled batch and hidden sizes). FLOPs / time is divided by the peak: the best
rate of a float32 torch.mm over square sizes 384..2048, timed between the encoder measurements (the machine
is shared, so the best of many is the peak; there a cache-resident 384^3 product runs faster than a 2048^3
one, and both are printed). To name the bound, the same is done for torch.mm at the recurrent step's own
shape, (B, H) x (H, G*H): the step's matrix product cannot run faster than that, and the steps run one after
another. "matmul share" is the time the layer's matrix products would take alone (input projection at
peak, recurrent products at the step-shape rate) over the measured time; the rest goes to gate
nonlinearities, per-step dispatch and memory traffic.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from zoo import cpu  # noqa: E402
from zoo.batching import length_batches  # noqa: E402
from zoo.encoder import RecurrentEncoder  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
DATA = ROOT.parent / "shared" / "datasets"
# task -> (input size I as the bundled configs have it, hidden H, batch size, data folder, text column)
PEAK_SIZES = (384, 1024, 2048)  # 384 stays in cache; 2048 is the "large" mm, slower here where the L3 is shared
TASKS = {"ner": (158, 128, 32, "conll2003", "tokens"),  # 100 word + 50 char CNN + 8 casing
         "sentiment": (100, 150, 64, "sst2", "sentence")}


def timed(f, reps: int) -> float:
    f()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def mm_rate(m: int, k: int, n: int, reps: int) -> float:
    """Best GFLOP/s of torch.mm (m, k) x (k, n) in float32."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    inner = max(1, int(2e8 // (2 * m * k * n)))  # ~0.2 GFLOP per timing
    return 2 * m * k * n * inner / timed(lambda: [torch.mm(a, b) for _ in range(inner)], reps) / 1e9


def lengths_of(folder: str, column: str) -> list[int]:
    import pyarrow.parquet as pq
    col = pq.read_table(DATA / folder / "train.parquet", columns=[column]).column(column).to_pylist()
    return [n for n in (len(x) if isinstance(x, list) else len(x.split()) for x in col) if n]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}; "
          f"{cpu.describe()}")
    peaks, rows = [], []
    print("| task | arch | B | I | H | FLOPs/token fwd | mode | tokens/s | GFLOP/s | % of peak "
          "| step mm (B,H)x(H,GH) GFLOP/s | % of peak | matmul share |")
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for task, (I, H, B, folder, column) in TASKS.items():
        lens = lengths_of(folder, column)
        batches = [[lens[i] for i in idx] for idx in length_batches(lens, B, shuffle=True, seed=1)[:args.batches]]
        tokens = sum(map(sum, batches))
        xs = [(torch.randn(len(b), max(b), I), torch.tensor(b)) for b in batches]
        for arch in ("rnn", "lstm", "bilstm"):
            G, D = (1 if arch == "rnn" else 4), (2 if arch == "bilstm" else 1)
            fwd_flops = D * (2 * I * G * H + 2 * H * G * H)
            step_rate = mm_rate(B, H, G * H, 5)
            torch.manual_seed(0)
            enc = RecurrentEncoder(arch, I, H)
            xg = [(x.clone().requires_grad_(), n) for x, n in xs]

            def train():
                enc.train()
                for x, n in xg:
                    out, final = enc(x, n)
                    (out.sum() + final.sum()).backward()

            def infer():
                enc.eval()
                with torch.no_grad():
                    for x, n in xs:
                        enc(x, n)
            rates = {"train": [], "infer": []}
            for _ in range(args.rounds):  # alternate training and inference passes
                for mode, f in (("train", train), ("infer", infer)):
                    t0 = time.perf_counter()
                    f()
                    rates[mode].append(tokens / (time.perf_counter() - t0))
            peaks.append({n: mm_rate(n, n, n, 3) for n in PEAK_SIZES})
            for mode in ("train", "infer"):
                tok_s = statistics.median(rates[mode][1:] or rates[mode])
                rows.append((task, arch, B, I, H, fwd_flops, mode, tok_s, tok_s * fwd_flops * (3 if mode == "train" else 1) / 1e9, step_rate,
                             D * 2 * I * G * H, D * 2 * H * G * H))
    best = {n: max(pk[n] for pk in peaks) for n in PEAK_SIZES}
    peak = max(best.values())
    for task, arch, B, I, H, fwd_flops, mode, tok_s, gflops, step_rate, in_flops, rec_flops in rows:
        # time per token if the layer did nothing but its matrix products: the input projection at peak, the
        # recurrent products at the step shape's own rate; the rest of the measured time is outside matmuls
        ceiling = 1 / ((in_flops / (peak * 1e9) + rec_flops / (step_rate * 1e9)) * (3 if mode == "train" else 1))
        print(f"| {task} | {arch} | {B} | {I} | {H} | {fwd_flops:,} | {mode} | {tok_s:,.0f} | {gflops:.2f} | "
              f"{100 * gflops / peak:.1f}% | {step_rate:.1f} | {100 * step_rate / peak:.0f}% | {100 * tok_s / ceiling:.0f}% |")
    print(f"\npeak = best square float32 torch.mm, n x n x n, timed {3 * len(peaks)} times per size between the encoder "
          "measurements: " + ", ".join(f"n={n}: {r:.1f}" for n, r in best.items()) + f" GFLOP/s -> peak {peak:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
