"""The one training loop of the zoo, and the command-line conventions every train/*.py script shares.

A task hands the loop a model with `.loss(batch)`, a function giving each epoch's batches, and a
validation function returning metrics. The loop trains with Adam and gradient clipping, halves the
learning rate when validation stops improving, keeps the best weights by the validation metric
(model selection on validation data only) and stops early. Test data never enters this file.
"""
from __future__ import annotations

import argparse
import copy
import math
import random
import shlex
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from tqdm.auto import tqdm


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


def add_train_args(parser: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    """The flags every training script takes, with the task's own defaults."""
    help_ = {"epochs": "maximum number of epochs", "batch_size": "sentences per batch", "lr": "Adam learning rate",
             "weight_decay": "Adam weight decay", "clip": "gradient norm clip",
             "patience": "epochs without validation improvement before stopping",
             "seed": "random seed (weights, dropout, data order)", "max_steps": "stop after N steps (smoke runs; 0 = no limit)",
             "threads": "torch CPU threads (0 = default)"}
    for f in fields(TrainConfig):
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(getattr(defaults, f.name)),
                            default=getattr(defaults, f.name), help=f"{help_[f.name]} (default: %(default)s)")
    parser.add_argument("--push-to-hub", metavar="ORG/REPO", type=hub_repo_arg, default=None,
                        help="after training, publish the checkpoint to this Hub model repo (needs HF_TOKEN)")


def hub_repo_arg(value: str) -> str:
    """argparse type of --push-to-hub: checked when the flags are read, so a missing token or a bad repo id
    stops the script before hours of training rather than after."""
    from . import hub
    if not hub.is_repo_id(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Hub repo id (ORG/NAME)")
    if hub.offline():
        raise argparse.ArgumentTypeError("offline mode is on (HF_HUB_OFFLINE), so nothing can be pushed")
    from huggingface_hub import get_token
    if not get_token():
        raise argparse.ArgumentTypeError("pushing needs a Hub token with write access: set HF_TOKEN or run `hf auth login`")
    return value


def config_from_args(args) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in ["python", *sys.argv])


def fit(model: torch.nn.Module, batches: Callable[[int], Iterable], validate: Callable[[torch.nn.Module], dict],
        select: str, cfg: TrainConfig, count: Callable[[object], int] = lambda b: 0, log=print) -> dict:
    """Train model in place; on return it holds the weights of its best validation epoch.

    batches(epoch) -> the epoch's batches; validate(model) -> metrics dict (model in eval mode);
    select: the metric to maximise; count(batch) -> tokens in it (for the tokens/s figure).
    Returns a summary: best epoch, its validation metrics, the history and the time spent.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1)
    best, best_state, best_epoch, bad, step, history = -math.inf, None, 0, 0, 0, []
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        epoch_batches = list(batches(epoch))
        bar = tqdm(epoch_batches, desc=f"epoch {epoch}/{cfg.epochs}", unit="batch", mininterval=1.0,
                   dynamic_ncols=True, file=sys.stderr)
        t0, tokens, running = time.perf_counter(), 0, None
        for batch in bar:
            loss = model.loss(batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at step {step}; lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            opt.step()
            step += 1
            tokens += count(batch)
            running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
            bar.set_postfix(loss=f"{running:.4f}", tok_s=f"{tokens / (time.perf_counter() - t0):,.0f}", refresh=False)
            if cfg.max_steps and step >= cfg.max_steps:
                break
        bar.close()
        epoch_s = time.perf_counter() - t0
        model.eval()
        metrics = validate(model)
        score = metrics[select]
        history.append({"epoch": epoch, "loss": running, "seconds": round(epoch_s, 1),
                        "lr": opt.param_groups[0]["lr"], "validation": metrics})
        improved = score > best
        log(f"epoch {epoch}: loss {running:.4f}  validation {select} {score:.4f}{'  (best)' if improved else ''}"
            f"  {epoch_s:.1f}s  {tokens / max(epoch_s, 1e-9):,.0f} tokens/s")
        if improved:
            best, best_epoch, bad = score, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
        plateau.step(score)
        if bad >= cfg.patience or (cfg.max_steps and step >= cfg.max_steps):
            break
    model.load_state_dict(best_state)
    model.eval()
    return {"best_epoch": best_epoch, "validation": history[best_epoch - 1]["validation"], "steps": step,
            "train_seconds": round(time.perf_counter() - start, 1), "history": history, "config": asdict(cfg)}


def finish(model: torch.nn.Module, config: dict, summary: dict, args: argparse.Namespace,
           evaluate: Callable[[str], dict], splits: list[str], out, files: dict[str, str] | None = None) -> dict:
    """Round the best weights to the saved dtype, score them on `splits` (validation first, test once, at
    the end), and write the checkpoint with its metrics and recipe. Prints and returns one JSON-able line."""
    import json
    from . import checkpoint

    dtype = getattr(torch, getattr(args, "dtype", "float32"))
    # metrics describe the weights as saved, so round them first
    model.load_state_dict({k: v.to(dtype).float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    model.eval()
    metrics = {split: evaluate(split) for split in splits}
    n_params = sum(p.numel() for p in model.parameters())
    select = config["metric"]
    config.update(metrics=metrics, parameters=n_params, train={
        "command": command_line(), "seed": summary["config"]["seed"],
        **{k: summary[k] for k in ("best_epoch", "steps", "train_seconds", "config")},
        "epoch_seconds": [h["seconds"] for h in summary["history"]],
        "validation_" + select: [h["validation"][select] for h in summary["history"]],
        "options": {k: v for k, v in vars(args).items() if k not in summary["config"]}})
    out = checkpoint.save(out, model, config, files=files, dtype=dtype)
    line = {"model": config["name"], "checkpoint": str(out), "parameters": n_params, "best_epoch": summary["best_epoch"],
            "train_seconds": summary["train_seconds"],
            "metrics": {s: {k: v for k, v in m.items() if not isinstance(v, dict)} for s, m in metrics.items()}}
    repo_id = getattr(args, "push_to_hub", None)
    if repo_id:
        from . import hub, registry
        try:
            line["hub"] = hub.publish(out, repo_id)
        except (registry.ModelNotFound, checkpoint.CheckpointError, ValueError) as e:
            # the checkpoint is saved: report it, say how to retry the push, and fail like any script error
            print(json.dumps({**line, "hub": None}))
            print(f"error: {e}. The checkpoint is saved; retry with: python -m zoo publish {out} --repo-id {repo_id}",
                  file=sys.stderr)
            raise SystemExit(2) from None
    print(json.dumps(line))
    return line
