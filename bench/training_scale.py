"""Training speed on the precision and process-count axes, side by side in one run, as ratios.

    python bench/training_scale.py                       # ner-bilstm and sentiment-lstm, 300 steps each way
    python bench/training_scale.py --steps 100 --rounds 1 --only sentiment-lstm

Each configuration is the recipe's own training command cut short (--max-steps), so what is timed is the
real training path: `python train/TASK.py --recipe NAME --data DATA --threads 1 --max-steps N --precision P`,
one process, or the same under `torchrun --nproc_per_node=2` (gloo, one thread each). The figure is the
tokens/s of the training steps that the script logs (all ranks together), not data loading or validation.
Configurations run in turn, `--rounds` times, alternating, so drift on the machine hits them alike; the
table gives the best round and each ratio against fp32 on one process. The CPU's flags are printed first:
bf16 paid where they include amx_bf16, not with avx512_bf16 alone (docs/training.md).
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from zoo import cpu  # noqa: E402
from zoo_cost import command  # noqa: E402  (the documented command of a recipe)

CONFIGS = (("fp32", 1), ("bf16", 1), ("fp32", 2), ("bf16", 2))
_RATE = re.compile(r"epoch 1: .* ([\d,]+) tokens/s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(name: str, precision: str, procs: int, steps: int, out: Path) -> float:
    words = shlex.split(command(name))[1:]  # drop "python"
    words += ["--max-steps", str(steps), "--precision", precision, "--save-every", "0", "--out", str(out)]
    if procs == 1:
        cmd = [sys.executable, *words]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={procs}", "--master_addr=127.0.0.1",
               f"--master_port={free_port()}", *words]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    m = _RATE.search(r.stderr)
    if r.returncode or not m:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return float(m.group(1).replace(",", ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", default=["ner-bilstm", "sentiment-lstm"])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    print(cpu.describe(), flush=True)
    best: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name in args.only:
                for precision, procs in CONFIGS:
                    rate = run(name, precision, procs, args.steps, Path(tmp) / f"{name}-{precision}-{procs}")
                    key = (name, precision, procs)
                    best[key] = max(best.get(key, 0.0), rate)
                    print(f"round {r + 1}: {name} {precision} x{procs}: {rate:,.0f} tokens/s", flush=True)
    print("\n| model | fp32, 1 process | bf16, 1 process | fp32, 2 processes | bf16, 2 processes |\n|---|---|---|---|---|")
    for name in args.only:
        base = best[(name, "fp32", 1)]
        print(f"| `{name}` | " + " | ".join(f"{best[(name, p, n)]:,.0f} ({best[(name, p, n)] / base:.2f}x)"
                                           for p, n in CONFIGS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
