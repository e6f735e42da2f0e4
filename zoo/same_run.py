"""Whether the state saved in a run's --out folder is this run's: the folder where a run keeps its resumable
state (OUT/.train_state, zoo/resume.py writes it), the flags and data content it was saved with (run.json),
and what a run may replace there. A resume of another run, other flags or other data is refused, naming the
differences, so no run trains a mix; a killed run's progress is only discarded with --restart.

    folder = same_run.state_folder(args, ds=ds)   # once the data has loaded and been checked
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from . import checkpoint, devices, distributed, resume, training

STATE_DIR = ".train_state"
# flags that say nothing of what a run trains, so a resume never compares them
RUN_CONTROL = ("resume", "restart")  # how a run treats its saved state (never recorded either)
PATH_FLAGS = ("out", "data")  # where a run and its data are, not what they are (a moved folder still resumes)
SAVE_FLAGS = ("dtype",)  # how the result is written: a finished run's save may change it
PUBLISH_FLAGS = ("push_to_hub",)  # where the result goes afterwards
SHOWN_DIFFERENCES = 5  # a resume's refusal names this many changed flags, then counts the rest
SAMPLE_ROWS = 64  # rows of each split hashed, evenly spaced: other data of the same shape differs in them


def data_signature(ds) -> dict:
    """What a run's data is, by content: each split's rows, features (a hash) and a hash of SAMPLE_ROWS of its
    rows spread over the split, not the path it was read from (a moved folder is the same data)."""
    def sample(split) -> str:
        idx = sorted({i * split.num_rows // SAMPLE_ROWS for i in range(SAMPLE_ROWS)} & set(range(split.num_rows)))
        table = split.data.table.take(idx)  # the Arrow rows as stored: no image is decoded
        return hashlib.sha256(json.dumps(table.to_pydict(), sort_keys=True, default=repr).encode()).hexdigest()[:16]

    return {name: {"rows": split.num_rows, "features": hashlib.sha256(
        json.dumps(split.features.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16],
        "sample": sample(split)} for name, split in sorted(ds.items())}


def _saved_run(record: Path) -> dict:
    """run.json of a run whose state is there; missing or damaged is an error, and the state stays."""
    keep = "; the saved state is kept: restore the file, or start again with --restart"
    if not record.is_file():
        raise resume.StateError(f"{record}: missing beside a saved training state{keep}")
    try:
        saved = json.loads(record.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise resume.StateError(f"{record}: not valid JSON ({str(e)[:100]}){keep}") from None
    if not isinstance(saved, dict):
        raise resume.StateError(f"{record}: not a record of a run's flags{keep}")
    return saved


def refuse_another_tasks_checkpoint(task: str, out: Path, restart: bool, data: str | None = None) -> None:
    """A run whose --out holds a finished checkpoint of another task (an NER run over a sentiment model), or of the
    same task trained on other data (an IMDB run over runs/sentiment-rnn, trained on SST-2: the default --out is
    runs/TASK-ARCH whatever the data), would replace it when it ends: refused unless --restart says so, when the
    flags are read. Another run of the same task on the same data there (the same recipe again, another --arch)
    replaces it with a note (_say_what_is_replaced)."""
    try:
        cfg = checkpoint.read_config(out)
    except (checkpoint.CheckpointError, OSError):
        return
    if restart:
        return
    if cfg.get("task") not in (None, task):
        raise resume.StateError(f"{out}: holds the finished {cfg.get('task')} checkpoint {cfg.get('name', '?')}, "
                                f"which this {task} run would replace when it ends; give it another --out, or "
                                "--restart to replace it")
    recorded = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
    source = recorded.get("hub_id") or recorded.get("path")
    if data and isinstance(source, str) and not _same_data(source, data):
        raise resume.StateError(f"{out}: holds the finished checkpoint {cfg.get('name', '?')}, trained on {source}, "
                                f"which this run on {data} would replace when it ends; give it another --out, or "
                                "--restart to replace it")


def _same_data(recorded: str, given: str) -> bool:
    """Whether --data names the data a checkpoint records: the same folder (however the path is written) or the
    same Hub id."""
    a, b = Path(recorded).expanduser(), Path(given).expanduser()
    if a.exists() and b.exists():
        return a.resolve() == b.resolve()
    return recorded.strip("/") == given.strip("/")


def _say_what_is_replaced(out: Path) -> None:
    """A run saves by replacing its --out folder: where that holds a finished checkpoint, say which, at the start
    (runs/sentiment-rnn trained on SST-2 is replaced by an IMDB run of the same arch, the default name being
    TASK-ARCH)."""
    try:
        cfg = checkpoint.read_config(out)
    except (checkpoint.CheckpointError, OSError):
        return
    data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
    source = data.get("hub_id") or data.get("path")
    print(f"note: when it ends, this run replaces the checkpoint in {out} ({cfg.get('name', '?')}"
          + (f", trained on {source}" if source else "") + ")", file=sys.stderr)


def _difference(key: str, then, now) -> str:
    """One flag's change for the refusal of a resume; the data's as the splits whose content differs, not two
    dicts of hashes."""
    if key != "data_content" or not isinstance(then, dict) or not isinstance(now, dict):
        return f"{key}: {then!r} then, {now!r} now"

    def rows(split):
        n = split.get("rows") if isinstance(split, dict) else None
        return n if isinstance(n, int) else None

    def said(k):
        a, b = rows(then.get(k)), rows(now.get(k))
        return f"{k} ({a:,} rows then, {b:,} now)" if a is not None and b is not None and a != b else str(k)
    return "data: other content in " + ", ".join(said(k) for k in sorted(set(then) | set(now), key=str)
                                                 if then.get(k) != now.get(k))


def state_folder(args: argparse.Namespace, out=None, ds=None, signature: dict | None = None) -> Path:
    """The folder where a run keeps its resumable state, OUT/.train_state: hidden inside the checkpoint
    folder, so the checkpoint.save that ends the run, which replaces that folder, drops the state with it.
    Without --resume it is emptied, so no state of an earlier run is ever picked up, but a state with saved
    progress is only thrown away with --restart (a forgotten --resume would lose a killed run's hours); --resume
    on a finished checkpoint, which keeps no state, is refused rather than training it again. With --resume the run
    must be the one that saved it (run.json): the same flags but paths (--out, --data) and what may change
    (training.FREE_ON_RESUME), and data of the same content (ds: the loaded DatasetDict, data_signature), so a moved
    run or data folder resumes and a different run does not train a mix. A state with its run.json missing
    or damaged is an error that keeps the state, never emptied. Call it once the data has loaded and been
    checked, so a run that cannot start leaves nothing behind. Under torchrun it joins the process group
    first; rank 0 alone writes, the others wait for it."""
    if distributed.world()[1] > 1:
        distributed.setup(devices.resolve(getattr(args, "device", "auto")))
    out = Path(out or args.out)
    folder = out / STATE_DIR
    options = {k: v for k, v in vars(args).items()
               if k not in (*RUN_CONTROL, *PUBLISH_FLAGS, *PATH_FLAGS, *SAVE_FLAGS, *training.FREE_ON_RESUME)}
    if signature is not None or ds is not None:  # signature: data_signature(ds) taken before ds was changed
        options["data_content"] = signature if signature is not None else data_signature(ds)
    options["processes"] = distributed.world()[1]  # each step's batch is this many batches: another count trains another run
    options = json.loads(json.dumps(options, default=str))  # as it reads back from run.json
    record = folder / "run.json"
    saved_progress = folder.is_dir() and any(folder.rglob(resume.RECORD))
    restart = getattr(args, "restart", False)
    if args.resume and restart:
        raise resume.StateError("--resume continues a run's saved state and --restart discards it: give one")
    if saved_progress and not args.resume and not restart:
        raise resume.StateError(f"{folder}: a killed run's saved progress; --resume continues it, --restart "
                                "discards it and starts again")
    if args.resume and not saved_progress and not record.is_file() and (out / checkpoint.CONFIG).is_file():
        raise resume.StateError(f"{out}: a finished checkpoint and no saved state, so nothing to "
                                "resume; without --resume the run trains again and replaces it")
    if args.resume and (record.is_file() or saved_progress):
        saved = {k: v for k, v in _saved_run(record).items()
                 if k not in (*PATH_FLAGS, *SAVE_FLAGS)}  # older run.json files have them
        if "processes" not in saved:  # written before the process count was recorded
            options.pop("processes")
        if "data_content" not in saved:  # written before data was compared by content
            options.pop("data_content", None)
        elif not any("sample" in s for s in saved["data_content"].values()):  # before rows were sampled too
            options["data_content"] = {k: {f: v for f, v in s.items() if f != "sample"}
                                       for k, s in options["data_content"].items()}
        differ = sorted(k for k in set(saved) | set(options) if saved.get(k) != options.get(k))
        if differ:
            named = "name" in differ and bool(saved.get("name"))  # another script's or recipe's run
            said = [_difference(k, saved.get(k), options.get(k)) for k in differ if not (named and k == "name")]
            if len(said) > SHOWN_DIFFERENCES:  # such a state differs in most flags
                said = said[:SHOWN_DIFFERENCES] + [f"and {len(said) - SHOWN_DIFFERENCES} more"]
            whose = f"saved by the run {saved['name']}, not {options.get('name')}" if named else \
                "saved by a run with other flags or data"
            advice = (f"resume with that run's flags (its --recipe or --arch), give this run another --out, or "
                      f"--restart to discard {saved['name']}'s saved state" if named
                      else "resume with the same flags and data, or start again with --restart")
            raise resume.StateError(f"{record}: {whose}" + (f" ({', '.join(said)})" if said else "") + f"; {advice}")
        return folder
    if distributed.is_main():
        _say_what_is_replaced(out)
        shutil.rmtree(folder, ignore_errors=True)
        try:
            folder.mkdir(parents=True)
        except OSError as e:  # checked when the flags were read; a folder can still be refused (/proc, a full disk)
            raise resume.StateError(f"--out {out}: cannot make the folder ({e.strerror or e})") from None
        tmp = folder / ".run.json.tmp"
        tmp.write_text(json.dumps(options, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, record)
    distributed.barrier()
    return folder
