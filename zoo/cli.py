"""The command line that every train/*.py script shares: flags, recipes, errors, and the JSON line a run ends
with (whether a saved state is this run's: zoo/same_run.py). The training loop itself is zoo/training.py and knows nothing of this.

    p = cli.parser(__doc__, ner.TASK, ner.HUB_DATA)       # --recipe --arch --data --out --dtype
    p.add_argument("--hidden-size", ...)                    # the task's own flags
    args = cli.parse(p, argv, ner.TASK, training.TrainConfig(epochs=40, ...))   # + --epochs --lr ... --resume
    ...
    return cli.finish(args, model, config, summary, evaluate, splits, files)   # score, save, push, print

A recipe (zoo/recipes.json, one per bundled model) is a set of flag values: `--recipe ner-bilstm` makes them
the defaults, so a flag on the command line still wins, and names the run (checkpoint name, runs/NAME).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import torch

from . import checkpoint, data, devices, distributed, interrupt, resume, run_flags, same_run, training
from .encoder import ARCHS
from .path_flag import path_flag

RECIPES = Path(__file__).parent / "recipes.json"
_HELP = {"epochs": "maximum number of epochs", "batch_size": "sentences per batch", "lr": "Adam learning rate",
         "weight_decay": "Adam weight decay", "clip": "gradient norm clip",
         "patience": "epochs without validation improvement before stopping",
         "seed": "random seed (weights, dropout, data order)", "max_steps": "stop after N steps (smoke runs; 0 = no limit)",
         "threads": "torch CPU threads (0 = default)",
         "save_every": "save the resumable training state every N steps, and at each epoch end (0 = epoch ends only)",
         "device": "auto, cpu, cuda, cuda:N or mps (auto: CUDA where there is one)",
         "precision": "auto, fp32, bf16 or fp16 (autocast; auto: bf16 on CUDA with bf16 or a CPU with AMX)"}


def recipes() -> dict[str, dict]:
    """Every recipe by name: {"task": ..., "data": HUB_ID, flag: value, ...}."""
    table = json.loads(RECIPES.read_text(encoding="utf-8"))
    return {k: v for k, v in table.items() if not k.startswith("_")}


def log(message: str) -> None:
    print(message, file=sys.stderr)


def parser(doc: str, task: str, hub_data: str, arch: str = "bilstm") -> argparse.ArgumentParser:
    """The flags every training script takes before its own."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--recipe", choices=[n for n, r in recipes().items() if r["task"] == task], default=None,
                   help="a bundled model's recipe (zoo/recipes.json): its flags become the defaults")
    p.add_argument("--arch", choices=ARCHS, default=arch, help="recurrent layer")
    p.add_argument("--data", default=hub_data, type=path_flag, help="Hub id or local folder of the dataset")
    # %(default).0s prints nothing, and keeps the help formatter from adding "(default: None)" after the real one
    p.add_argument("--out", default=None, type=path_flag,
                   help="checkpoint folder (default: runs/NAME, NAME the recipe or TASK-ARCH)%(default).0s")
    p.add_argument("--dtype", choices=("float16", "float32"), default="float16", help="weights as saved")
    return p


def parse(p: argparse.ArgumentParser, argv, task: str, defaults: training.TrainConfig) -> argparse.Namespace:
    """Add the training loop's flags (with the task's defaults), apply --recipe, parse. args.name is the run's
    name (the recipe's, else TASK-ARCH) and args.out its folder."""
    for f in fields(training.TrainConfig):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(getattr(defaults, f.name)),
                       default=getattr(defaults, f.name), help=f"{_HELP[f.name]} (default: %(default)s)")
    p.add_argument("--resume", action="store_true",
                   help=f"continue a killed run from the state saved in OUT/{same_run.STATE_DIR} (same flags); "
                        "starts from the beginning if there is none, and refuses a finished checkpoint")
    p.add_argument("--restart", action="store_true",
                   help=f"discard a killed run's state saved in OUT/{same_run.STATE_DIR} and start again (without it, or "
                        "--resume, a run refuses to throw that state away)")
    p.add_argument("--push-to-hub", metavar="ORG/REPO", type=hub_repo_arg, default=None,
                   help="after training, publish the checkpoint to this Hub model repo (needs HF_TOKEN)")
    known, _ = p.parse_known_args(argv)
    if getattr(known, "recipe", None):
        flags = {k: v for k, v in recipes()[known.recipe].items() if k != "task"}
        unknown = sorted(k for k in flags if not hasattr(known, k))
        if unknown:  # a recipe names a flag the script no longer has: say so rather than ignore it
            p.error(f"recipe {known.recipe} sets unknown flags: {', '.join(unknown)}")
        p.set_defaults(**flags)
    args = p.parse_args(argv)
    if args.resume and args.restart:  # said now, not once the data has loaded (same_run.state_folder says it too)
        p.error("--resume continues a run's saved state and --restart discards it: give one")
    # a device or precision that is not there, or a flag out of range, is said at once, not after the data has loaded
    devices.choose_precision(args.precision, devices.resolve(args.device))
    run_flags.check(p, args)
    # --threads from here, not from fit: the data's encoding and the starting weights (an orthogonal init's QR) ran
    # on torch's default threads, so the same flags gave other weights with and without OMP_NUM_THREADS=1
    devices.use_threads(args.threads)
    recipe = getattr(args, "recipe", None)
    if recipe and args.arch != recipes()[recipe].get("arch", args.arch):
        p.error(f"--arch {args.arch} contradicts the recipe {recipe} (arch {recipes()[recipe]['arch']}); "
                f"drop --recipe, or pick the recipe with arch {args.arch}")
    args.name = recipe or f"{task}-{args.arch}"
    args.out = args.out or f"runs/{args.name}"
    if recipe:
        _say_if_other_data(recipe, args.data, args.out)
    run_flags.check_out(p, args.out)
    same_run.refuse_another_tasks_checkpoint(task, Path(args.out), args.restart, args.data)  # before the data loads
    return args


def _say_if_other_data(recipe: str, data: str, out: str) -> None:
    """A note where --data reads as another known dataset than the recipe's (--recipe imdb-rnn --data .../sst2):
    the recipe's flags still apply, and the checkpoint keeps the recipe's name, which says IMDB."""
    from .card import DATASETS, dataset_key
    meant, given = dataset_key(recipes()[recipe]["data"]), dataset_key(data)
    if given != meant and given in DATASETS and meant in DATASETS:
        log(f"note: the recipe {recipe} is for {DATASETS[meant]['name']}, but --data {data} reads as "
            f"{DATASETS[given]['name']}: the recipe's flags apply all the same, and the checkpoint at {out} is "
            f"named {recipe} (its card names the data it was trained on)")


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


def script(main: Callable[..., int]) -> Callable[..., int]:
    """Decorates a training script's main(argv) -> exit code: what a user can get wrong (data that is not
    there or not usable, a --resume state from another run) prints one line and returns 2, no traceback."""
    @functools.wraps(main)
    def run(argv=None) -> int:
        interrupt.started()  # Ctrl-C is Python's again (interrupt.quiet_while_starting)
        interrupt.keep(None)  # nothing kept yet (a test's earlier run in this process set it)
        try:
            return main(argv)
        except (data.DataUnavailable, resume.StateError, devices.DeviceUnavailable, checkpoint.CheckpointError,
                checkpoint.ModelNotFound,  # these two: a checkpoint a script was given (train/what_if.py)
                FloatingPointError) as e:  # a loss gone NaN, weights float16 cannot hold: the message says what to do
            print(f"error: {e}", file=sys.stderr)
            return 2
        except (torch.OutOfMemoryError, RuntimeError) as e:
            if not isinstance(e, torch.OutOfMemoryError) and "can't allocate memory" not in str(e):
                raise  # a bug, not the machine's limit: its traceback
            print(f"error: out of memory ({(str(e).splitlines() or [''])[0][:160]}); lower --batch-size or the "
                  "model's sizes (and start again with --restart where a state was saved)", file=sys.stderr)
            return 2
        except KeyboardInterrupt as e:
            if argv is None:  # the program itself (a caller passing argv, a test, keeps its own handler)
                interrupt.ignore_from_now()
            if distributed.is_main():  # under torchrun every rank is stopped; one says so
                # at a step's end (Interrupted): what was saved; elsewhere (loading, scoring, a caption's decoding
                # search, any moment under torchrun): what the run kept, if anything
                print(str(e) if isinstance(e, interrupt.Interrupted) else interrupt.stop_line(), file=sys.stderr)
            return 130  # the shell's code for a run stopped by SIGINT
        finally:
            if distributed.active():
                torch.distributed.destroy_process_group()
    return run


def rewritable(arg: str, threads: int = 0):
    """A checkpoint-rewriting script's (train/caption_decoding.py, memory_profile.py, what_if.py) checkpoint
    argument, loaded: it must name a folder, which the script rewrites in place. A bundled model's bare name is
    refused (it changed the bundled model without a word) and so is a Hub repo or its cached copy (which would
    no longer match the Hub's files); a bundled folder named by its path is rewritten, with MANIFEST.json, and
    said so. threads: torch's CPU threads, 0 for torch's default."""
    from . import hub, registry
    if threads:
        torch.set_num_threads(threads)
    folder = Path(arg).expanduser()
    if not folder.is_dir():
        hint = (f"copy it (mkdir -p runs && cp -r zoo/checkpoints/{arg} runs/) and name the copy, or name "
                f"zoo/checkpoints/{arg} to change the bundled model itself") if arg in registry.list_models() \
            else "give a checkpoint folder" + ("" if folder.exists() else " (there is no such folder)")
        raise checkpoint.CheckpointError(f"{arg}: this script rewrites a checkpoint folder in place; {hint}")
    if folder.resolve().is_relative_to(hub.cache_dir().resolve()):
        raise checkpoint.CheckpointError(f"{arg}: a Hub download in the cache, which this script would rewrite in "
                                         "place; copy the folder (cp -rL) and name the copy")
    pred = registry.load(arg)
    registry.require_rewritable(pred)  # an ONNX export: one line, before the work
    if registry.is_bundled(pred.folder):
        log(f"note: {arg} is the bundled {pred.folder.name}: its config.json, card and MANIFEST.json entry are rewritten")
    return pred


def warn_if_no_words(tokenizer, flags: str) -> None:
    """A vocabulary of special tokens only (--min-word-freq above every count, --max-vocab 1) trains a model that
    reads every word as <unk>: legal, but worth a line before the run's hours."""
    if distributed.is_main() and all(w.startswith("<") and w.endswith(">") for w in tokenizer.get_vocab()):
        log(f"warning: the vocabulary holds no training word, so every word reads as <unk>; check {flags}")


def check_size(name: str, model) -> None:
    """A model larger than zoo.load takes (zoo/limits.py) is refused before the run's state folder is made (the
    flags' bounds cannot see the vocabulary, which the data decides)."""
    from .limits import MAX_PARAMS
    n = sum(p.numel() for p in model.parameters())
    if n > MAX_PARAMS:
        raise checkpoint.CheckpointError(f"{name}: {n:,} parameters, and zoo.load takes checkpoints of up to "
                                         f"{MAX_PARAMS:,}; lower --hidden-size or the embedding sizes")


def describe(name: str, model, *facts: str) -> None:
    """The line a run starts with: its name, parameter count and what it reads."""
    if distributed.is_main():
        log(", ".join([f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters", *facts]))


def command_line() -> str:
    """The command that made a checkpoint, as its card shows it to rerun: without --resume / --restart (or the
    prefixes argparse takes for them), which say how a run treated its saved state, not what it trained, and
    without --push-to-hub and its repo (a rerun copied from the card would publish into the author's repo)."""
    def named(arg: str, flags) -> bool:
        flag = arg.split("=")[0]  # argparse takes any unambiguous prefix: --pu is --push-to-hub
        return len(flag) > 3 and any(f"--{f.replace('_', '-')}".startswith(flag) for f in flags)
    kept, skip = [], False
    for a in sys.argv:
        if skip or named(a, same_run.RUN_CONTROL):
            skip = False
            continue
        if named(a, same_run.PUBLISH_FLAGS):
            skip = "=" not in a  # --push-to-hub ORG/REPO: its value is the next word
            continue
        kept.append(a)
    _, size, _ = distributed.world()
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", size))
    launcher = ["python"] if size == 1 else \
        ["torchrun", *(["--nnodes", str(size // per_node)] if per_node < size else []), "--nproc-per-node", str(per_node)]
    return " ".join(shlex.quote(a) for a in [*launcher, *kept])


def finish(args: argparse.Namespace, model, config: dict, summary: dict, evaluate: Callable[[str], dict],
           splits: list[str], files: dict[str, str] | None = None) -> int:
    """Score and save the best weights (training.finish) with the command and flags that made them, push the
    checkpoint to the Hub if asked, and print the run's one JSON line. -> the script's exit code. Under
    torchrun only rank 0 does this; the other ranks are done once training is."""
    if not distributed.is_main():
        return 0
    options = {k: v for k, v in vars(args).items() if k not in summary["config"] and k not in same_run.RUN_CONTROL}
    line = training.finish(model, config, summary, evaluate, splits, args.out, files=files,
                           dtype=args.dtype, command=command_line(), options=options)
    out = shlex.quote(str(args.out))
    if args.push_to_hub:
        from . import checkpoint, registry
        interrupt.add(f"push it with: python -m zoo publish {out} --repo-id {args.push_to_hub}")  # after checkpoint.save's
        log(f"publishing {args.out} to Hub repo {args.push_to_hub} (Ctrl-C stops it; the checkpoint stays)")
        try:
            line["hub"] = registry.publish(args.out, args.push_to_hub)
        except (checkpoint.ModelNotFound, checkpoint.CheckpointError, ValueError) as e:
            # the checkpoint is saved: report it, say how to retry the push, and fail like any script error
            print(json.dumps({**line, "hub": None}))
            log(f"error: {e}. The checkpoint is saved; retry with: python -m zoo publish {out} "
                f"--repo-id {args.push_to_hub}")
            return 2
    print(json.dumps(line))
    return 0
