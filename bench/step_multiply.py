"""What else could run the sentiment models' per-step multiply at batch 64, the part that bounds them against Keras
on a CPU without VNNI or native bf16 (docs/benchmarks.md, the AVX2 section). One step's (64, H) x (H, G*H)
multiply, H = 150 (the sentiment models'), G = 1 (vanilla RNN) and 4 (LSTM): torch's float32 mm (MKL), MKL's
packed-weight GEMM (`torch.ops.mkl._mkl_linear`, the weight packed once) and fbgemm's int8 dynamic linear (the
weight quantized once; the route `torch.ao.quantization.quantize_dynamic` took, deprecated in torch 2.13). Then
a whole LSTM layer at inference (64 rows x 20 steps, input 100): torch's nn.LSTM against a written-out step loop
that looks up each word's input projection from a projected table and runs one multiply-add and one sigmoid per
step (tanh(z) = 2 sigmoid(2z) - 1), as the vanilla RNN's steps route does in its sigmoid form (zoo/encoder.py). Prints us per call
(and GFLOP/s), the ratios against float32 mm, and the CPU. Interleaved rounds, one thread.

    OMP_NUM_THREADS=1 python bench/step_multiply.py [--rounds 9]
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from zoo import cpu  # noqa: E402
from peer_common import race  # noqa: E402

CALLS = 2000  # calls of one multiply per timed pass


def repeat(f, n=CALLS):
    def run():
        for _ in range(n):
            f()
    return run


def multiplies(rows: int, H: int, G: int, rounds: int) -> dict[str, float]:
    """-> program -> us per call of (rows, H) x (H, G*H), each route on the same weights."""
    g, w = torch.rand(rows, H), torch.randn(G * H, H) * 0.05
    wt = w.t().contiguous()
    programs = {"float32 mm": repeat(lambda: torch.mm(g, wt))}
    try:
        packed = torch.ops.mkl._mkl_reorder_linear_weight(w, rows)
        torch.testing.assert_close(torch.ops.mkl._mkl_linear(g, packed, w, None, rows), g @ wt)
        programs["MKL packed"] = repeat(lambda: torch.ops.mkl._mkl_linear(g, packed, w, None, rows))
    except (RuntimeError, AttributeError) as e:  # a torch built without MKL
        print(f"MKL packed GEMM unavailable: {str(e).splitlines()[0]}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # quantized tensors are deprecated: the point of measuring them here
            qw = torch.quantize_per_tensor(w, w.abs().max().item() / 127, 0, torch.qint8)
        pk = torch.ops.quantized.linear_prepack(qw, None)
        programs["fbgemm int8"] = repeat(lambda: torch.ops.quantized.linear_dynamic(g, pk, True))
    except (RuntimeError, AttributeError) as e:
        print(f"int8 dynamic linear unavailable: {str(e).splitlines()[0]}")
    return {k: 1e6 * s / CALLS for k, s in race(programs, rounds).items()}


def lstm_layer(rounds: int, B=64, T=20, I=100, H=150, V=15000) -> dict[str, float]:
    """-> program -> ms per layer call; asserts the two give the same final state (1e-5)."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(I, H, batch_first=True).eval()
    emb, ids = torch.randn(V, I) * 0.3, torch.randint(0, V, (B, T))
    w_ih, w_hh, b_ih, b_hh = (p.detach() for p in lstm.parameters())
    s = torch.ones(4 * H, 1)
    s[2 * H:3 * H] = 2  # the cell input's rows doubled: one sigmoid serves all four gates
    table = emb @ (w_ih * s).t() + (b_ih + b_hh) * s[:, 0]  # (V, 4H)
    wt = (w_hh * s).t().contiguous()  # (H, 4H)

    def torch_lstm():
        with torch.no_grad():
            return lstm(emb[ids])[1][0][0]  # (B, H)

    def steps():
        u = table[ids.t()]  # (T, B, 4H)
        c, h = torch.zeros(B, H), None
        for o in u.unbind(0):
            if h is not None:
                o.addmm_(h, wt)
            i, f, g, og = o.sigmoid_().split(H, 1)
            c.mul_(f).addcmul_(i, g, value=2).sub_(i)  # f c + i (2 sigmoid(2z) - 1)
            h = torch.mul(c, 2).sigmoid_().mul_(2).sub_(1).mul_(og)
        return h

    torch.testing.assert_close(steps(), torch_lstm(), atol=1e-5, rtol=0)
    return {k: 1e3 * v / 20 for k, v in race({"nn.LSTM (padded)": repeat(torch_lstm, 20),
                                               "written-out steps": repeat(steps, 20)}, rounds).items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; {cpu.describe()}\n")
    print("| one step's multiply | route | us per call | GFLOP/s | vs float32 mm |\n|---|---|---:|---:|---:|")
    for G, name in ((1, "vanilla RNN"), (4, "LSTM")):
        us = multiplies(64, 150, G, args.rounds)
        for k, v in us.items():
            flops = 2 * 64 * 150 * G * 150
            print(f"| {name}: (64, 150) x (150, {G * 150}) | {k} | {v:.1f} | {flops / v / 1e3:.1f} | "
                  f"{us['float32 mm'] / v:.2f}x |")
    ms = lstm_layer(args.rounds)
    print("\n| LSTM layer, 64 x 20 steps, input 100, hidden 150 | ms per call | vs nn.LSTM |\n|---|---:|---:|")
    for k, v in ms.items():
        print(f"| {k} | {v:.2f} | {ms['nn.LSTM (padded)'] / v:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
