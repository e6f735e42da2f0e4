"""Why zoo.precision leaves Linear layers of few outputs in float32: one Linear layer (256 inputs) in float32
and under bf16 autocast, by batch and number of outputs, one thread. Prints us per call and the ratio.

    OMP_NUM_THREADS=1 python bench/bf16_linear.py

The zoo's output layers have 2 (sentiment) and 9 (NER) outputs; the caption decoder's have 256 and more.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zoo import cpu  # noqa: E402
from zoo.precision import BF16_MIN_OUTPUTS  # noqa: E402


def us_per_call(f, n: int = 300) -> float:
    for _ in range(20):
        f()
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return 1e6 * (time.perf_counter() - t0) / n


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)  # --help answers, runs nothing
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; {cpu.describe()}; zoo.precision.BF16_MIN_OUTPUTS = {BF16_MIN_OUTPUTS}")
    print("| batch | outputs | fp32 us | bf16 us | bf16 speed-up |\n|---:|---:|---:|---:|---:|")
    for batch in (1, 5, 64, 1280):  # one input, a beam, a batch, a batch's words (64 x 20)
        for outputs in (2, 9, 32, 64, 128, 512, 2000):
            layer, x = torch.nn.Linear(256, outputs), torch.randn(batch, 256)
            with torch.no_grad():
                fp32 = us_per_call(lambda: layer(x))
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    bf16 = us_per_call(lambda: layer(x))
            print(f"| {batch} | {outputs} | {fp32:.1f} | {bf16:.1f} | {fp32 / bf16:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
