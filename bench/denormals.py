"""Why zoo.training.fit flushes denormals: an LSTM training step from each starting-weight recipe, with and
without torch.set_flush_denormal, one thread. Prints ms per step (the last of 4 steps) and the CPU.

    python bench/denormals.py [--batch 64] [--steps-len 200]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zoo import cpu  # noqa: E402
from zoo.encoder import INITS, RecurrentEncoder  # noqa: E402


def step_ms(init: str, flush: bool, batch: int, length: int) -> float:
    torch.set_flush_denormal(flush)
    try:
        torch.manual_seed(0)
        enc = RecurrentEncoder("lstm", 100, 150, init=init).train()  # the imdb-lstm recipe's sizes
        x, lengths = torch.randn(batch, length, 100), torch.full((batch,), length)
        opt = torch.optim.Adam(enc.parameters(), 2e-3)
        for _ in range(4):  # Adam's first steps move the weights to where denormals appear (or not)
            t0 = time.perf_counter()
            _, final = enc(x, lengths)
            final.sum().backward()
            opt.step()
            opt.zero_grad()
        return 1000 * (time.perf_counter() - t0)
    finally:
        torch.set_flush_denormal(False)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps-len", type=int, default=200, help="words per text")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; {cpu.describe()}")
    print("| start | denormals kept: ms/step | flushed: ms/step |\n|---|---:|---:|")
    for init in INITS:
        kept, flushed = step_ms(init, False, args.batch, args.steps_len), step_ms(init, True, args.batch, args.steps_len)
        print(f"| {init} | {kept:,.0f} | {flushed:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
