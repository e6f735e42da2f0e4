"""Wall time to train every bundled model from scratch with the README's commands.

    python bench/zoo_cost.py                      # all nine, two at a time, into runs/zoo-cost/
    python bench/zoo_cost.py --jobs 1 --only ner-rnn sentiment-rnn
    python bench/zoo_cost.py --dry-run            # print the commands

COMMANDS below are the README's training commands, word for word (tests/test_docs.py checks that the
README still lists each one); only `--out runs/NAME` is moved under --root, so nothing already in runs/
or zoo/checkpoints/ is overwritten. Commands start longest first, --jobs at a time (each trains on one
thread, so two jobs fill a 2-core machine). Every command's output goes to ROOT/logs/NAME.log; at the end
a table gives each model's wall seconds, epochs, validation and test score (from the JSON line the script
prints last), and the total wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# longest first (measured epoch times x epochs), so the last job to start is a short one
COMMANDS = {
    "ner-bilstm": "python train/ner.py --arch bilstm --data ../shared/datasets/conll2003 --threads 1 --seed 2 --out runs/ner-bilstm",
    "ner-lstm": "python train/ner.py --arch lstm   --data ../shared/datasets/conll2003 --threads 1 --out runs/ner-lstm",
    "caption-lstm": "python train/caption.py --arch lstm --data ../shared/datasets/flickr8k --threads 1 --out runs/caption-lstm",
    "caption-bilstm": "python train/caption.py --arch bilstm --hidden-size 256 --data ../shared/datasets/flickr8k --threads 1 --epochs 13 --out runs/caption-bilstm",
    "sentiment-bilstm": "python train/sentiment.py --arch bilstm --data ../shared/datasets/sst2 --pool auto --threads 1 --out runs/sentiment-bilstm",
    "ner-rnn": "python train/ner.py --arch rnn    --data ../shared/datasets/conll2003 --threads 1 --out runs/ner-rnn",
    "caption-rnn": "python train/caption.py --arch rnn --hidden-size 256 --embed-dim 128 --data ../shared/datasets/flickr8k --threads 1 --epochs 12 --patience 12 --out runs/caption-rnn",
    "sentiment-lstm": "python train/sentiment.py --arch lstm   --data ../shared/datasets/sst2 --dropout 0.3 --threads 1 --out runs/sentiment-lstm",
    "sentiment-rnn": "python train/sentiment.py --arch rnn    --data ../shared/datasets/sst2 --dropout 0.3 --threads 1 --out runs/sentiment-rnn",
}


def argv(command: str, root: Path) -> list[str]:
    """A README command -> the argv to run: this interpreter, and --out moved under root."""
    words = shlex.split(command)
    i = words.index("--out")
    words[i + 1] = str(root / Path(words[i + 1]).name)
    return [sys.executable, *words[1:]]


def result(log: Path) -> dict:
    """The JSON line a training script prints last, or {} if it did not get there."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                break
    return {}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--root", type=Path, default=ROOT / "runs" / "zoo-cost")
    ap.add_argument("--only", nargs="+", choices=list(COMMANDS), help="a subset (default: all)")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    names = args.only or list(COMMANDS)
    if args.dry_run:
        print("\n".join(shlex.join(argv(COMMANDS[n], args.root)) for n in names))
        return
    (args.root / "logs").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    queue, running, done = list(names), {}, {}
    start = time.perf_counter()
    while queue or running:
        while queue and len(running) < args.jobs:
            name = queue.pop(0)
            log = open(args.root / "logs" / f"{name}.log", "w")
            running[name] = (subprocess.Popen(argv(COMMANDS[name], args.root), cwd=ROOT, env=env, stdout=log,
                                              stderr=subprocess.STDOUT), time.perf_counter(), log)
            print(f"[{time.perf_counter() - start:7.0f} s] start {name}", flush=True)
        time.sleep(1)
        for name, (proc, t0, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                done[name] = (proc.returncode, time.perf_counter() - t0)
                del running[name]
                print(f"[{time.perf_counter() - start:7.0f} s] done  {name}: exit {proc.returncode}, "
                      f"{done[name][1]:.0f} s", flush=True)
    total = time.perf_counter() - start
    print(f"\n{len(names)} models, {args.jobs} at a time, one thread each: {total / 60:.1f} min wall, "
          f"{sum(s for _, s in done.values()) / 60:.1f} min of commands\n")
    print("| model | wall min | best epoch / epochs run | validation | test |\n|---|---:|---:|---|---|")
    for name in names:
        rc, secs = done[name]
        r = result(args.root / "logs" / f"{name}.log")
        val, test = r.get("metrics", {}).get("validation", {}), r.get("metrics", {}).get("test", {})
        key = next((k for k in ("f1", "accuracy", "bleu4") if k in val), None)
        ckpt = args.root / name / "config.json"
        epochs = len(json.loads(ckpt.read_text())["train"]["epoch_seconds"]) if ckpt.exists() else "?"
        score = (lambda m: f"{key} {m[key]:.2f}" if key in m else "-")
        print(f"| {name} | {secs / 60:.1f} | {r.get('best_epoch', '?')} / {epochs} | {score(val)} | "
              f"{score(test)} |" + ("" if rc == 0 else f" exit {rc}"))
    sys.exit(max((rc for rc, _ in done.values()), default=0) != 0)


if __name__ == "__main__":
    main()
