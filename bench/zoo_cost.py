"""Wall time to train every bundled model from scratch with its recipe (zoo/recipes.json).

    python bench/zoo_cost.py                      # all of them, two at a time, into runs/zoo-cost/
    python bench/zoo_cost.py --jobs 1 --only ner-rnn sentiment-rnn
    python bench/zoo_cost.py --dry-run            # print the commands

Each recipe runs as `python train/TASK.py --recipe NAME --data DATA_ROOT/FOLDER --threads 1 --out ROOT/NAME`,
the documented command (docs/training.md) with --out moved under --root, so nothing already in runs/ or
zoo/checkpoints/ is overwritten. FOLDER is the last part of the recipe's Hub id (eriktks/conll2003 ->
conll2003), as the local copies are laid out. Commands start longest first, --jobs at a time (each trains
on one thread, so two jobs fill a 2-core machine). Every command's output goes to ROOT/logs/NAME.log; at
the end a table gives each model's wall seconds, epochs, validation and test score (from the JSON line the
script prints last), and the total wall time.
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

from zoo import cli

ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = Path("../shared/datasets")
# longest first (measured epoch times x epochs), so the last job to start is a short one
ORDER = ("ner-bilstm", "ner-lstm", "imdb-bilstm", "caption-lstm", "caption-bilstm", "imdb-lstm", "sentiment-bilstm",
         "ner-rnn", "imdb-rnn", "caption-rnn", "sentiment-lstm", "sentiment-rnn")


def command(name: str, data_root: Path = DATA_ROOT) -> str:
    """The documented training command of a recipe: local data, one thread, checkpoint in runs/NAME."""
    recipe = cli.recipes()[name]
    folder = recipe["data"].rsplit("/", 1)[-1]
    return f"python train/{recipe['task']}.py --recipe {name} --data {data_root / folder} --threads 1"


def argv(name: str, root: Path, data_root: Path = DATA_ROOT) -> list[str]:
    """A recipe -> the argv to run: this interpreter, and --out under root."""
    return [sys.executable, *shlex.split(command(name, data_root))[1:], "--out", str(root / name)]


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
    ap.add_argument("--only", nargs="+", choices=sorted(cli.recipes()), help="a subset (default: all)")
    ap.add_argument("--data-root", type=Path, default=DATA_ROOT, help="folder holding the local dataset copies")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    names = [n for n in sorted(cli.recipes(), key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
             if not args.only or n in args.only]
    if args.dry_run:
        print("\n".join(shlex.join(argv(n, args.root, args.data_root)) for n in names))
        return
    from zoo import cpu
    print(f"# {os.cpu_count()} CPUs; {cpu.describe()}", flush=True)
    (args.root / "logs").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    queue, running, done = list(names), {}, {}
    start = time.perf_counter()
    while queue or running:
        while queue and len(running) < args.jobs:
            name = queue.pop(0)
            log = open(args.root / "logs" / f"{name}.log", "w")
            running[name] = (subprocess.Popen(argv(name, args.root, args.data_root), cwd=ROOT, env=env, stdout=log,
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
