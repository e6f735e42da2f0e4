"""Where a training run is (Progress), saved with the resumable state and checked when a run resumes: a
record that training could not have written (hand-edited, from another run's flags) is a StateError, not a
place to train from. The state's files themselves are zoo/resume.py's; the loop is zoo/training.py's."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from . import resume
from .whole import whole_number


@dataclass
class Progress:
    """Where the loop is: all of it goes into the saved state's JSON record."""
    epoch: int = 0              # epochs finished
    batch: int = 0              # batches of epoch + 1 done
    batches_in_epoch: int = 0   # of epoch + 1, to check on resume that the data is the same
    step: int = 0
    best: float = -math.inf
    best_epoch: int = 0
    bad: int = 0                # epochs since the best one
    done: bool = False          # finished: after the last epoch, early, or at max_steps
    running: float | None = None  # the loss's moving average in this epoch
    tokens: int = 0             # in this epoch
    epoch_seconds: float = 0.0  # spent on this epoch by earlier processes (a resumed run)
    seconds: float = 0.0        # spent on training by earlier processes
    history: list = field(default_factory=list)
    resumed_at_steps: list = field(default_factory=list)


def save(folder: Path, model, opt, plateau, best_state, run: Progress, cfg, start: float, scaler=None) -> None:
    """The resumable state: weights, optimizer, scheduler, random generators, best weights and run (cfg: the
    run's TrainConfig, recorded to compare on resume; start: perf_counter at this process's start)."""
    progress = {**asdict(run), "seconds": run.seconds + time.perf_counter() - start,
                "scaler": scaler.state_dict() if scaler is not None else None}  # fp16's loss scale, where it runs
    resume.save(folder, *resume.capture(model, opt, plateau, best_state, progress, asdict(cfg)))


def check(path: Path, run: Progress, cfg) -> None:
    """The record's progress, by type and range: a hand-edited record (batch -5, epoch 99) was accepted and
    trained on from a place that does not exist."""
    def whole(v):
        return whole_number(v, 0, floats=False) is not None

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)

    wrong = [f"{k} {getattr(run, k)!r} is not a whole number >= 0" for k in
             ("epoch", "batch", "batches_in_epoch", "step", "best_epoch", "bad", "tokens") if not whole(getattr(run, k))]
    wrong += [f"{k} {getattr(run, k)!r} is not a number >= 0" for k in ("epoch_seconds", "seconds")
              if not (number(getattr(run, k)) and getattr(run, k) >= 0)]
    if not isinstance(run.done, bool):
        wrong.append(f"done {run.done!r} is not true or false")
    if not number(run.best) or (run.running is not None and not number(run.running)):
        wrong.append("best or running is not a number")
    if not isinstance(run.history, list) or not all(isinstance(h, dict) and isinstance(h.get("validation"), dict)
                                                   for h in run.history):
        wrong.append("history is not a list of epochs")
    if not isinstance(run.resumed_at_steps, list) or not all(whole(v) for v in run.resumed_at_steps):
        wrong.append("resumed_at_steps is not a list of steps")
    if not wrong:  # the types hold: now the ranges, against each other and this run's flags
        if run.epoch > cfg.epochs:
            wrong.append(f"epoch {run.epoch} is beyond this run's {cfg.epochs} epochs")
        if run.batch > run.batches_in_epoch or run.batch > run.step:
            wrong.append(f"batch {run.batch} is beyond its epoch ({run.batches_in_epoch} batches, step {run.step})")
        if len(run.history) != run.epoch or run.best_epoch > run.epoch or (run.epoch and not run.best_epoch):
            wrong.append(f"{len(run.history)} epochs of history, best epoch {run.best_epoch}, for {run.epoch} epochs done")
    if wrong:
        raise resume.StateError(f"{path}: not a state training could have saved ({'; '.join(wrong[:3])}); "
                                "start again with --restart")


def restore(folder: Path, model, opt, plateau, cfg, free: tuple[str, ...], log, scaler=None) -> tuple[Progress, dict | None] | None:
    """Put model, optimizer, scheduler and random generators back as saved: the progress and best weights,
    or None (and a log line) where nothing was saved. free: the TrainConfig fields a resumed run may change."""
    found = resume.restore(folder, model, opt, plateau, asdict(cfg), free)
    if found is None:
        log(f"resume: no saved state in {folder}; starting from the beginning")
        return None
    record, best_state = found
    if scaler is not None and record.get("scaler"):
        scaler.load_state_dict(record["scaler"])  # the loss scale reached, not GradScaler's starting one
    try:
        run = Progress(**{f.name: record[f.name] for f in fields(Progress)})
    except KeyError as e:
        raise resume.StateError(f"{folder}: the state record lacks {e}") from None
    check(folder / resume.RECORD, run, cfg)
    run.resumed_at_steps.append(run.step)
    # a finished run's epoch counter has moved past its last epoch: name the step it ended at instead
    log(f"resumed from {folder}: " + (f"training had finished at step {run.step}" if run.done
                                      else f"epoch {run.epoch + 1}, batch {run.batch}, step {run.step}"))
    return run, best_state
