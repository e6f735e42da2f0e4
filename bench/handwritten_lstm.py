"""Is there a faster LSTM kernel than torch's fused one (oneDNN) on this CPU? A hand-written one, timed.

    python bench/handwritten_lstm.py                            # SST-2, CoNLL and IMDB-like shapes
    python bench/handwritten_lstm.py --shapes 64x9 --rounds 9   # batch x steps

The training step is where seqzoo misses 1.5x over Keras, and oneDNN's LSTM forward and backward are
most of it (README, Benchmarks). The usual way to beat a fused RNN kernel is to take its big matrix
multiplies out of the time loop: every step's input projection in one (T*B, I) x (I, 4H) multiply before
the loop, and in the backward pass the weight gradients as two big multiplies after it, leaving only
the (B, H) x (H, 4H) multiply per step. That is what `HandwrittenLSTM` does, in torch ops with its
backward written out (an autograd.Function; torch records nothing inside it). It is checked against
nn.LSTM (outputs and all gradients), then both run forward + backward on the same input, alternating,
for --rounds rounds, one thread; medians are printed, with the time its matrix multiplies alone take
(each timed on its own), the floor for any kernel built this way.
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
from peer_common import race  # noqa: E402  # alternating rounds, medians: the same timing as the peer benchmarks


class HandwrittenLSTM(torch.autograd.Function):
    """x (T, B, I), w_ih (4H, I), w_hh (4H, H), b (4H,), gate order i, f, o, g -> hidden states (T, B, H)."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b):
        T, B, I = x.shape
        H = w_hh.shape[1]
        gates = torch.addmm(b, x.reshape(T * B, I), w_ih.t()).view(T, B, 4 * H)  # every step's input part
        h = x.new_zeros(T + 1, B, H)  # h[0] = c[0] = 0
        c = x.new_zeros(T + 1, B, H)
        tanh_c = x.new_empty(T, B, H)
        for t in range(T):
            z = gates[t].addmm_(h[t], w_hh.t())  # (B, 4H), activated in place below
            z[:, :3 * H].sigmoid_()  # i, f, o
            z[:, 3 * H:].tanh_()  # g
            i, f, o, g = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
            torch.addcmul(f * c[t], i, g, out=c[t + 1])
            torch.tanh(c[t + 1], out=tanh_c[t])
            torch.mul(o, tanh_c[t], out=h[t + 1])
        ctx.save_for_backward(x, w_ih, w_hh, gates, h, c, tanh_c)
        return h[1:]

    @staticmethod
    def backward(ctx, dh_out):
        x, w_ih, w_hh, gates, h, c, tanh_c = ctx.saved_tensors
        T, B, I = x.shape
        H = w_hh.shape[1]
        dz = torch.empty_like(gates)  # (T, B, 4H): gradients of the pre-activations
        dh, dc = x.new_zeros(B, H), x.new_zeros(B, H)
        for t in range(T - 1, -1, -1):
            z = gates[t]
            i, f, o, g = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
            dh = dh + dh_out[t]
            dc = torch.addcmul(dc, dh * o, 1 - tanh_c[t] * tanh_c[t])
            d = dz[t]
            torch.mul(dc, g, out=d[:, :H])  # d i
            torch.mul(dc, c[t], out=d[:, H:2 * H])  # d f
            torch.mul(dh, tanh_c[t], out=d[:, 2 * H:3 * H])  # d o
            torch.mul(dc, i, out=d[:, 3 * H:])  # d g
            s = z[:, :3 * H]
            d[:, :3 * H].mul_(s * (1 - s))
            d[:, 3 * H:].mul_(1 - g * g)
            dc = dc * f
            dh = d @ w_hh
        dz = dz.view(T * B, 4 * H)
        return ((dz @ w_ih).view(T, B, I), dz.t() @ x.reshape(T * B, I), dz.t() @ h[:-1].reshape(T * B, H),
                dz.sum(0))


def ifog(w, H):
    """torch's gate order i, f, g, o -> i, f, o, g (the three sigmoids side by side)."""
    i, f, g, o = w.split(H)
    return torch.cat([i, f, o, g])


def handwritten(lstm: torch.nn.LSTM, x):
    H = lstm.hidden_size
    return HandwrittenLSTM.apply(x, ifog(lstm.weight_ih_l0, H), ifog(lstm.weight_hh_l0, H),
                                 ifog(lstm.bias_ih_l0 + lstm.bias_hh_l0, H))


def max_differences(lstm, x) -> dict:
    params = [x, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0]
    ref = lstm(x)[0]
    mine = handwritten(lstm, x)
    g_ref = torch.autograd.grad((ref ** 2).sum(), params)
    g_mine = torch.autograd.grad((mine ** 2).sum(), params)
    return {"output": (ref - mine).abs().max().item(),
            "gradients": max((a - b).abs().max().item() / (a.abs().max().item() + 1e-12) for a, b in zip(g_ref, g_mine))}


def matmul_floor(T: int, B: int, I: int, H: int, rounds: int) -> float:
    """Seconds the kernel's matrix multiplies alone take, each timed on its own: the floor for any kernel
    built this way, with gate arithmetic and dispatch for free."""
    x, g, w_ih, w_hh = torch.randn(T * B, I), torch.randn(T * B, 4 * H), torch.randn(4 * H, I), torch.randn(4 * H, H)
    h, d, hs = torch.randn(B, H), torch.randn(B, 4 * H), torch.randn(T * B, H)
    parts = [(1, lambda: x @ w_ih.t()), (T, lambda: h @ w_hh.t()),  # forward: input part once, then per step
             (T, lambda: d @ w_hh), (1, lambda: g @ w_ih), (1, lambda: g.t() @ x), (1, lambda: g.t() @ hs)]  # backward
    total = 0.0
    for n, f in parts:
        times = []
        for _ in range(rounds + 1):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        total += n * statistics.median(times[1:])
    return total


def backward(out):
    out.backward(torch.ones_like(out))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", default="64x9,32x15,64x40,64x200", help="batch x steps, comma separated "
                   "(SST-2 and CoNLL mean lengths, a long SST-2 batch, IMDB-like)")
    p.add_argument("--input", type=int, default=100)
    p.add_argument("--hidden", type=int, default=150)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"# torch {torch.__version__}, 1 thread, input {args.input}, hidden {args.hidden}; {cpu.describe()}")
    lstm = torch.nn.LSTM(args.input, args.hidden)
    for shape in args.shapes.split(","):
        B, T = map(int, shape.split("x"))
        x = torch.randn(T, B, args.input, requires_grad=True)
        diff = max_differences(lstm, x)
        med = race({"fused": lambda: backward(lstm(x)[0]), "handwritten": lambda: backward(handwritten(lstm, x))},
                   args.rounds)
        print(json.dumps({"batch": B, "steps": T, "fused_ms": round(1000 * med["fused"], 2),
                          "handwritten_ms": round(1000 * med["handwritten"], 2),
                          "its_matmuls_alone_ms": round(1000 * matmul_floor(T, B, args.input, args.hidden, 5 * args.rounds), 2),
                          "handwritten_speedup": round(med["fused"] / med["handwritten"], 2),
                          "max_output_difference": f"{diff['output']:.1e}",
                          "max_relative_gradient_difference": f"{diff['gradients']:.1e}"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
