"""The one training loop of the zoo (the command line around it is zoo/cli.py).

A task hands the loop a model with `.loss(batch)`, a function giving each epoch's batches, and a
validation function returning metrics. The loop trains with Adam and gradient clipping, halves the
learning rate when validation stops improving, keeps the best weights by the validation metric
(model selection on validation data only) and stops early. Test data never enters this file.

Given a state folder, the loop saves everything it needs to carry on (zoo/resume.py) every --save-every
steps and at each epoch end, and with --resume it continues from there: same weights, optimizer, learning
rate schedule, random generators and place in the epoch's batch order, so a run killed at any point and
resumed ends with the same weights and metrics, bit for bit, as one never interrupted.
"""
from __future__ import annotations

import copy
import functools
import random
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import devices, distributed, interrupt, progress, resume
from .gcfreeze import gc_frozen
from .tensor_key import drop_weight_results


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    clip: float = 5.0          # max gradient norm
    patience: int = 5          # epochs without a better validation score before stopping
    seed: int = 1
    max_steps: int = 0         # stop after this many optimizer steps in all (0: no limit); for smoke runs
    threads: int = 0           # torch threads (0: torch's default)
    save_every: int = 200      # save the resumable state every N steps, as well as at each epoch end (0: epoch ends only)
    device: str = "auto"       # auto | cpu | cuda | cuda:N | mps (zoo/devices.py)
    precision: str = "fp32"    # auto | fp32 | bf16 | fp16; fp32 by default, so a recipe trains the same model on any CPU


# what a resumed run may change. save_every changes nothing computed; threads can change the last bits of a
# multiply's sums, so a run resumed with other --threads continues the same training but is not bit-identical
FREE_ON_RESUME = ("threads", "save_every")


def config_from_args(args) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def epoch_seed(cfg: TrainConfig, epoch: int) -> int:
    """The seed of an epoch's shuffle: the same batches for the same run and epoch, so a resumed run
    replays the epoch it was killed in."""
    return cfg.seed * 1000 + epoch


def optimizer(model: torch.nn.Module, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """The zoo's optimizer. fused: one kernel for the whole update instead of a pass per tensor, 4x less
    time per step on the CPU (bench/peers.py uses this too)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    # a fused step leaves the weights' version counters as they were: what inference kept from them goes
    opt.register_step_post_hook(lambda *_: drop_weight_results(model))
    return opt


def denormals_flushed(f):
    """Float32 numbers below 1.2e-38 (denormals) are read as zero while training (FTZ/DAZ on the CPU): an
    LSTM started from torch's own weights (--init torch) produced them in backward and ran 9x slower per
    step (bench/denormals.py: 1,763 against 200 ms, an IMDB-sized batch, one thread); flushed, no slower
    than the Keras-style start. The flag is per thread: it covers the thread that calls fit, which with
    --threads 1 (every recipe) does all the arithmetic; worker threads started before fit keep their own
    setting and threads started during it inherit it. Set back to torch's default (off) on the way out;
    the app and zoo.load never call fit, so inference keeps every tiny number."""
    @functools.wraps(f)
    def run(*args, **kwargs):
        torch.set_flush_denormal(True)  # False where the CPU cannot (then nothing changes)
        try:
            return f(*args, **kwargs)
        finally:
            torch.set_flush_denormal(False)
    return run


@gc_frozen
@denormals_flushed
def fit(model: torch.nn.Module, batches: Callable[[int], Iterable], validate: Callable[[torch.nn.Module], dict],
        select: str, cfg: TrainConfig, count: Callable[[object], int] = lambda b: 0, log=print,
        state=None, resume_run: bool = False) -> dict:
    """Train model in place; on return it holds the weights of its best validation epoch.

    batches(epoch) -> the epoch's batches, the same for the same epoch on every call (seeded by it);
    validate(model) -> metrics dict (model in eval mode); select: the metric to maximise;
    count(batch) -> tokens in it (for the tokens/s figure); state: folder for the resumable state
    (None: not saved); resume_run: continue from the state in that folder, if there is one.
    Returns a summary: best epoch, its validation metrics, the history and the time spent.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = distributed.setup(devices.resolve(cfg.device))  # torchrun: join the group, this rank's GPU
    rank, size, _ = distributed.world()
    precision, why = devices.choose_precision(cfg.precision, device)
    if rank == 0:
        log(f"device {device}, precision {precision} ({why})" + (f", {size} processes" if size > 1 else ""))
    model.to(device)
    step_loss = distributed.wrap(model, device)  # DistributedDataParallel averages gradients over the ranks
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None  # fp16's range underflows gradients
    opt = optimizer(model, cfg.lr, cfg.weight_decay)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1)
    run, best_state = progress.Progress(), None
    if state is not None and resume_run:
        run, best_state = progress.restore(Path(state), model, opt, plateau, cfg, FREE_ON_RESUME,
                                           log if rank == 0 else (lambda s: None), scaler) or (run, None)
    start = time.perf_counter()

    def kept():  # what a Ctrl-C the loop cannot defer (under torchrun, or after it) leaves: interrupt.stop_line
        if state is not None and (run.step or run.done):
            # "this training": a sentiment BiLSTM's recipe trains a second candidate after it, which --resume then trains
            interrupt.keep("this training is done and its state is saved: rerun the same command with --resume to go "
                           "on from there" if run.done else f"the state saved at step {run.step} is kept: "
                           "rerun the same command with --resume to continue from there")
    kept()  # (a state restored by --resume; cli.script starts each run with nothing kept)

    def save():
        if state is not None and rank == 0:  # one writer; every rank restores from it on --resume
            progress.save(Path(state), model, opt, plateau, best_state, run, cfg, start, scaler)
            kept()

    def stopped(step: int) -> str:
        if state is not None and run.done:  # pressed during the last validation: a finished training's state (kept)
            return interrupt.stop_line()
        saved = "; its state is saved: rerun the same command with --resume to continue" if state is not None else ""
        return f"stopped by Ctrl-C at step {step}{saved}"

    with interrupt.deferred(size == 1) as asked:  # Ctrl-C: the step in progress ends, then the state is saved
        while not run.done and run.epoch < cfg.epochs:
            epoch = run.epoch + 1
            model.train()
            epoch_batches = list(batches(epoch))
            if size > 1:
                epoch_batches = distributed.share(epoch_batches, rank, size)
            if run.batch and run.batches_in_epoch != len(epoch_batches):
                raise resume.StateError(f"{state}: epoch {epoch} had {run.batches_in_epoch} batches, now "
                                        f"{len(epoch_batches)}: not the same data or batch size")
            run.batches_in_epoch = len(epoch_batches)
            # the bar is closed on any way out, so an error or the stop's line comes on a line of its own
            with tqdm(total=len(epoch_batches), initial=run.batch, desc=f"epoch {epoch}/{cfg.epochs}", unit="batch",
                      mininterval=1.0, dynamic_ncols=True, file=sys.stderr, disable=rank != 0) as bar:
                t0 = time.perf_counter() - run.epoch_seconds
                for batch in epoch_batches[run.batch:]:  # on resume, the batches this epoch has not yet trained on
                    if size > 1:  # each rank's dropout from (seed, step, rank): a resume replays it, no per-rank RNG
                        torch.manual_seed(cfg.seed * 1_000_003 + run.step * size + rank)
                    batch = devices.move(batch, device)
                    with devices.autocast(device, precision):
                        loss = step_loss(batch)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"loss is {loss.item()} at step {run.step}; lower --lr (and start again "
                                                 "with --restart where a state was saved)")
                    opt.zero_grad(set_to_none=True)
                    (scaler.scale(loss) if scaler else loss).backward()
                    if scaler:
                        scaler.unscale_(opt)  # clip the true gradients
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
                    if scaler:
                        scaler.step(opt)
                        scaler.update()
                    else:
                        opt.step()
                    run.step, run.batch = run.step + 1, run.batch + 1
                    run.tokens += count(batch)
                    run.running = loss.item() if run.running is None else 0.95 * run.running + 0.05 * loss.item()
                    bar.update(1)
                    bar.set_postfix(loss=f"{run.running:.4f}", tok_s=f"{run.tokens / (time.perf_counter() - t0):,.0f}",
                                    refresh=False)
                    if cfg.max_steps and run.step >= cfg.max_steps:
                        break
                    if cfg.save_every and run.step % cfg.save_every == 0 and run.batch < len(epoch_batches):
                        run.epoch_seconds = time.perf_counter() - t0
                        save()
                    resume.crash_point("step", run.step)
                    if asked():
                        run.epoch_seconds = time.perf_counter() - t0
                        save()
                        raise interrupt.Interrupted(stopped(run.step))
            epoch_s = time.perf_counter() - t0
            model.eval()
            # rank 0 validates (in float32, the master weights) and every rank takes its word for it
            metrics = distributed.broadcast(validate(model) if rank == 0 else None)
            score = metrics[select]
            run.history.append({"epoch": epoch, "loss": run.running, "seconds": round(epoch_s, 1),
                                "lr": opt.param_groups[0]["lr"], "validation": metrics})
            improved = score > run.best
            if rank == 0:
                log(f"epoch {epoch}: loss {run.running:.4f}  validation {select} {score:.4f}{'  (best)' if improved else ''}"
                    f"  {epoch_s:.1f}s  {run.tokens * size / max(epoch_s, 1e-9):,.0f} tokens/s")
            if improved:
                run.best, run.best_epoch, run.bad = score, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                run.bad += 1
            plateau.step(score)
            steps_cut = bool(cfg.max_steps and run.step >= cfg.max_steps)
            mid_epoch = run.batch < len(epoch_batches)
            into = f"{run.batch} of {len(epoch_batches)} batches into" if mid_epoch else "at the end of"
            run.epoch, run.batch, run.running, run.tokens, run.epoch_seconds = epoch, 0, None, 0, 0.0
            run.done = epoch >= cfg.epochs or run.bad >= cfg.patience or steps_cut
            # say why it ends before --epochs (or within its last epoch: --max-steps), and what is kept
            if rank == 0 and run.done and (epoch < cfg.epochs or (steps_cut and mid_epoch)):
                if steps_cut:
                    said = f"stopping at step {run.step} (--max-steps), {into} epoch {epoch} of {cfg.epochs}"
                else:
                    said = (f"stopping after epoch {epoch} of {cfg.epochs}: no better validation {select} in "
                            f"{cfg.patience} epoch{'s' * (cfg.patience != 1)} (--patience)")
                log(f"{said}; keeping epoch {run.best_epoch}")
            save()
            if asked():  # pressed during validation: the epoch's end is saved (a finished run's too: --resume ends it)
                raise interrupt.Interrupted(stopped(run.step))
    model.load_state_dict(best_state)
    model.eval()
    summary = {"best_epoch": run.best_epoch, "validation": run.history[run.best_epoch - 1]["validation"],
               "steps": run.step, "train_seconds": round(run.seconds + time.perf_counter() - start, 1),
               "history": run.history, "config": asdict(cfg), "device": str(device), "processes": size,
               "precision": {"chosen": precision, "why": why}}
    if run.resumed_at_steps:
        summary["resumed_at_steps"] = run.resumed_at_steps
    return summary


def round_weights(model: torch.nn.Module, dtype: str) -> None:
    """Round the model's weights, in place, to what saving them in dtype keeps, and put it in eval mode: what is
    measured or chosen on it after this (scores, a caption decoder's beam) is what the checkpoint gives.
    Rounding twice changes nothing."""
    dtype = getattr(torch, dtype)
    rounded = {k: v.to(dtype).float() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    overflow = [k for k, v in rounded.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if overflow:  # checkpoint.load_weights refuses such weights: fail here, before anything is written
        raise FloatingPointError(f"weights {', '.join(overflow[:5])} overflow {dtype}; the trained state is kept: "
                                 "rerun the same command with --resume --dtype float32 to save them in float32")
    model.load_state_dict(rounded)
    model.eval()


def finish(model: torch.nn.Module, config: dict, summary: dict, evaluate: Callable[[str], dict], splits: list[str],
           out, files: dict[str, str] | None = None, dtype: str = "float16", command: str | None = None,
           options: dict | None = None) -> dict:
    """Round the best weights to the saved dtype, score them on `splits` (validation first, test once, at
    the end), and write the checkpoint with its metrics and recipe (the command and the script's flags).
    -> the run's summary line (JSON-able); zoo/cli.py prints it."""
    from . import checkpoint

    round_weights(model, dtype)  # metrics describe the weights as saved, so round them first
    metrics = {split: evaluate(split) for split in splits}
    n_params = sum(p.numel() for p in model.parameters())
    select = config["metric"]
    config.update(metrics=metrics, parameters=n_params, train={
        "command": command, "seed": summary["config"]["seed"],
        **{k: summary[k] for k in ("best_epoch", "steps", "train_seconds", "config", "resumed_at_steps", "device",
                                   "processes", "precision") if k in summary},
        "epoch_seconds": [h["seconds"] for h in summary["history"]],
        "validation_" + select: [h["validation"][select] for h in summary["history"]],
        "options": options or {}})
    out = checkpoint.save(out, model, config, files=files, dtype=getattr(torch, dtype))
    return {"model": config["name"], "checkpoint": str(out), "parameters": n_params, "best_epoch": summary["best_epoch"],
            "train_seconds": summary["train_seconds"],
            # the weights the metrics scored: as saved (the epoch lines scored float32, so they can differ a little)
            "scored_as": dtype,
            # the line stays short: per-type tables and example captions are in config.json
            "metrics": {s: {k: v for k, v in m.items() if not isinstance(v, (dict, list))} for s, m in metrics.items()}}
