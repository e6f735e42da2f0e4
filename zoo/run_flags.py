"""What a training command's flags may be, checked when they are read: a bad value is argparse's one
`error:` line and exit status 2 before any data loads, not a traceback after it (or, worse, a run that
trains and then writes a checkpoint zoo.load refuses). And --out: a run writes its checkpoint there by
replacing the folder, so it must be a new or empty folder or a seqzoo checkpoint's folder, never one holding
anything else (a dataset, a user's notes) nor a bundled model's.
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from .checkpoint import CHECKPOINT_FILES, CONFIG, CheckpointError, read_config
from .limits import DECODE_ALPHA, DECODE_SIZES, SIZES
from .registry import inside_bundled
from .same_run import STATE_DIR

INF = math.inf
# flag (argparse dest) -> (lowest, highest, whether the lowest itself is allowed); the model sizes are
# zoo/limits.py's, so a run never writes a checkpoint zoo.load would refuse
BOUNDS = {
    # a batch of more than 4,096 is most of a training set at once: memory, not speed, is what it would buy
    "epochs": (1, INF, True), "batch_size": (1, 4096, True), "lr": (0, INF, False), "weight_decay": (0, INF, True),
    "clip": (0, INF, False), "patience": (1, INF, True), "max_steps": (0, INF, True), "threads": (0, 1024, True),
    "seed": (0, 2**32 - 1, True),  # NumPy's seeds: one outside is its traceback after the run's folder is made
    "save_every": (0, INF, True), "dropout": (0, 1, True), "word_dropout": (0, 1, True),
    "min_word_freq": (1, INF, True), "max_vocab": (0, SIZES["vocab_size"][1], True), "val_size": (2, INF, True),
    "texts": (1, INF, True), "words": (1, INF, True),
    **{k: (*SIZES[k], True) for k in ("hidden_size", "word_dim", "embed_dim", "char_filters", "casing_dim")},
}
RUN_FILES = {*CHECKPOINT_FILES, STATE_DIR}  # what a run's own --out folder holds


def _bad(value, lo, hi, closed) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return True
    return value < lo or (value == lo and not closed) or value > hi or (hi == 1 and value == 1)


def check(p: argparse.ArgumentParser, args: argparse.Namespace, bounds: dict | None = None) -> None:
    """Every flag of args named in BOUNDS (or bounds, the script's own) within its range, else p.error.
    A range up to 1 excludes 1 (dropout, a probability of dropping everything)."""
    for name, (lo, hi, closed) in {**BOUNDS, **(bounds or {})}.items():
        value = getattr(args, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and _bad(value, lo, hi, closed):
            top = "" if hi == INF else f" and {'below' if hi == 1 else 'at most'} {hi if isinstance(hi, int) else f'{hi:g}'}"
            p.error(f"--{name.replace('_', '-')} must be {'at least' if closed else 'above'} {lo:g}{top}, got {value}")


def threads(value: str) -> int:
    """argparse type of the commands' --threads (predict, evaluate), in the training scripts' bounds (BOUNDS):
    torch's CPU threads, 0 for torch's own choice."""
    lo, hi, _ = BOUNDS["threads"]
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not lo <= n <= hi:
        raise argparse.ArgumentTypeError(f"{n} threads: give {lo} (torch's default) to {hi}")
    return n


def number_list(p: argparse.ArgumentParser, flag: str, text: str, lo: float, hi: float, whole: bool) -> None:
    """A comma-separated flag (--beams 3,5,10; --alphas 0,0.5): each value a number in [lo, hi]."""
    for part in str(text).split(","):
        try:
            value = float(part)
        except ValueError:
            p.error(f"{flag} takes comma-separated numbers, got {text!r}")
        # a whole number written as one: "2.0" would pass as 2 here and then fail int() after training
        spelled_whole = part.strip().lstrip("+").isdigit()
        if not math.isfinite(value) or not lo <= value <= hi or (whole and not spelled_whole):
            p.error(f"{flag}: each value must be a {'whole number' if whole else 'number'} from {lo:g} to {hi:g}, "
                    f"got {part.strip()!r}")


def caption_decoding(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--beams, --alphas and --max-len of the caption scripts, within what zoo.load accepts in a checkpoint."""
    number_list(p, "--beams", args.beams, *DECODE_SIZES["beam"], whole=True)
    number_list(p, "--alphas", args.alphas, *DECODE_ALPHA, whole=False)
    if hasattr(args, "max_len"):
        check(p, args, {"max_len": (*DECODE_SIZES["max_len"], True)})


def check_out(p: argparse.ArgumentParser, out) -> None:
    """--out: a new folder, an empty one, or one holding a seqzoo checkpoint and nothing else (a run replaces it),
    never a bundled model's folder (its manifest entry would no longer match: bundling is a copy and
    `python -m zoo manifest`, docs/training.md)."""
    path = Path(out).expanduser()
    if Path.cwd().resolve().is_relative_to(path.resolve()):  # a run swaps its --out folder for a new one
        p.error(f"--out {out} is the current folder or holds it; choose a folder inside it")
    if inside_bundled(path):
        p.error(f"--out {out} is inside the bundled models' folder; train into another folder (runs/NAME) "
                "and copy it there to bundle it (docs/training.md)")
    if path.exists() and not path.is_dir():
        p.error(f"--out {out} is a file; the checkpoint is a folder")
    if not path.exists():  # made when the data has loaded: say now if it cannot be
        parent = next(q for q in path.absolute().parents if q.exists())
        if not parent.is_dir():
            p.error(f"--out {out}: {parent} is a file, so no folder can be made under it")
        if not os.access(parent, os.W_OK | os.X_OK):
            p.error(f"--out {out}: no permission to make a folder in {parent}")
    if path.is_dir():
        other = sorted(q.name for q in path.iterdir() if q.name not in RUN_FILES)
        if other:
            p.error(f"--out {out} holds other files ({', '.join(other[:5])}{', ...' if len(other) > 5 else ''}), "
                    "which the run would delete when it saves; choose a new or empty folder, or a checkpoint folder")
        kept = sorted(q.name for q in path.iterdir() if q.name in CHECKPOINT_FILES)
        try:  # files by a checkpoint's names that are not a checkpoint's (a README.md of notes) are a user's
            if kept:
                read_config(path)
        except (CheckpointError, OSError):  # OSError: a config.json this user cannot read
            p.error(f"--out {out} holds {', '.join(kept)} but no seqzoo checkpoint ({CONFIG} missing or not one); "
                    "the run would delete them when it saves; choose a new or empty folder")
