"""The resumable training state: what zoo.training.fit needs to carry on after a crash as if none happened.

    OUT/.train_state/[PART/]
      state.json                   epoch, batch within the epoch, step, best score, history, RNG states of
                                   Python and NumPy, optimizer hyperparameters, scheduler, TrainConfig, and
                                   the name and sha256 of the tensors file below; written last
      state-STEP-TOKEN.safetensors model.*, optim.*, best.* (best weights so far), rng.torch, rng.cuda.N

Tensors go to safetensors and everything else to JSON, so reading a state never unpickles anything. The
JSON is strict (RFC 8259), readable by jq or a browser: a float that is not finite (a run's starting best,
-inf, and the LR scheduler's) is written {"float": "-inf"} and read back as the float.
Each save writes new files under temporary names and renames them into place (os.replace is atomic),
and state.json, the record that names the tensors file, is renamed last: a process killed at any point
leaves the previous complete state. Older tensors files are deleted only after the new state.json is in.
"""
from __future__ import annotations

import json
import math
import os
import random
import signal
import uuid
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .integrity import sha256_file

FORMAT = "seqzoo-train-state/1"
RECORD = "state.json"
TEST_KILL_ENV = "SEQZOO_TEST_SIGKILL"  # "step:N" or "save:N": see crash_point
_saves = 0  # state saves by this process, counted for the "save:N" crash point


class StateError(RuntimeError):
    """A saved training state that cannot be resumed; the message names the file and the problem."""


def crash_point(where: str, n: int) -> None:
    """Test hook for the fault-injection tests: with SEQZOO_TEST_SIGKILL=WHERE:N the process kills itself
    with a real SIGKILL (no cleanup, no atexit, no flush) at the N-th such point: "step" after optimizer
    step N, "save" inside the N-th state save, after the new files are written and before state.json
    is renamed into place. Unset, as everywhere but in tests, this does nothing."""
    if os.environ.get(TEST_KILL_ENV) == f"{where}:{n}":
        os.kill(os.getpid(), signal.SIGKILL)


def _fsync_replace(tmp: Path, final: Path) -> None:
    # fsync first so that after a power cut the renamed file holds its bytes, not zeros
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)


NONFINITE = "float"  # the key of a float JSON has no number for: {"float": "inf" | "-inf" | "nan"}


def _strict(value):
    """value with every float that is not finite as {NONFINITE: repr}, for json.dumps(allow_nan=False)."""
    if isinstance(value, (np.generic, torch.Tensor)):  # a metric that is a NumPy or 0-d torch scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {NONFINITE: repr(value)}
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def _read_nonfinite(obj: dict):
    """json.loads' object_hook: {NONFINITE: "-inf"} -> -inf, any spelling float() reads ("-Infinity" too); one
    that is no such float is a ValueError (load: a StateError), not a dict where a number belongs. A state written
    before this form has -Infinity, which Python's json reads as it is."""
    if len(obj) != 1 or NONFINITE not in obj:
        return obj
    try:
        value = float(obj[NONFINITE])
    except (TypeError, ValueError):
        value = 0.0
    if math.isfinite(value):
        raise ValueError(f"{json.dumps(obj)[:80]} is not a float that JSON cannot write (inf, -inf or nan)")
    return value


def save(folder, tensors: dict[str, torch.Tensor], record: dict) -> Path:
    """Write one complete state into folder, atomically (see the module docstring). Returns state.json."""
    global _saves
    _saves += 1
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"state-{record.get('step', 0):08d}-{uuid.uuid4().hex[:8]}.safetensors"  # never an existing name
    tmp = folder / f".{name}.tmp"
    tmp_record = folder / f".{RECORD}.tmp"
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata={"format": FORMAT})
        sha = sha256_file(tmp)
        _fsync_replace(tmp, folder / name)
        text = json.dumps(_strict({"format": FORMAT, **record, "tensors": {"file": name, "sha256": sha}}),
                          allow_nan=False, indent=1)
        tmp_record.write_text(text + "\n", encoding="utf-8")
        crash_point("save", _saves)
        _fsync_replace(tmp_record, folder / RECORD)
    except BaseException:  # a second Ctrl-C, a full disk: the previous state stays whole, and nothing half-written
        record_path = folder / RECORD
        named = record_path.is_file() and name in record_path.read_text(encoding="utf-8")
        for part in (tmp, tmp_record) if named else (tmp, tmp_record, folder / name):
            part.unlink(missing_ok=True)
        raise
    # only now is the previous state no longer needed; also drop the temporary files of a killed save
    for old in [*folder.glob("state-*.safetensors"), *folder.glob(".state-*.tmp")]:
        if old.name != name:
            old.unlink(missing_ok=True)
    return folder / RECORD


def load(folder) -> tuple[dict[str, torch.Tensor], dict] | None:
    """(tensors, record) of the state in folder, or None if there is none. A state that is there but
    unreadable, incomplete or altered is a StateError: resuming from it would silently train something else."""
    path = Path(folder) / RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"), object_hook=_read_nonfinite)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StateError(f"{path}: not valid JSON ({e})") from None
    except ValueError as e:  # _read_nonfinite's
        raise StateError(f"{path}: {e}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("tensors"), dict):
        raise StateError(f"{path}: not a {FORMAT} record")
    tensors_path = Path(folder) / str(record["tensors"].get("file", ""))
    if not tensors_path.is_file() or tensors_path.parent != Path(folder):
        raise StateError(f"{tensors_path}: missing (named by {path})")
    if sha256_file(tensors_path) != record["tensors"].get("sha256"):
        raise StateError(f"{tensors_path}: sha256 differs from the one {path} records (changed or corrupt)")
    try:
        # copies, not views of a memory-mapped file: the optimizer updates its moments in place, and a file
        # rewritten in place (cp over it) under a mapping would be a SIGBUS
        tensors = {k: v.clone() for k, v in load_file(str(tensors_path)).items()}
    except (SafetensorError, OSError, ValueError) as e:
        raise StateError(f"{tensors_path}: not a readable safetensors file ({e})") from None
    return tensors, record


def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    """Every random generator training draws from: torch's (dropout, word dropout; CUDA's when in use)
    as uint8 tensors, Python's and NumPy's as JSON."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors.update({f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return tensors, {"python": [version, list(internal), gauss],
                     "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]}


def set_rng_state(tensors: dict[str, torch.Tensor], record: dict) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k[9:]))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    version, internal, gauss = record["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = record["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def capture(model, opt, plateau, best_state: dict | None, progress: dict, config: dict) -> tuple[dict, dict]:
    """(tensors, record) of a training run: weights, Adam's moments, best weights and torch's RNG as tensors;
    the loop's progress, its TrainConfig, Adam's hyperparameters, the LR scheduler and the other RNGs as JSON."""
    rng_tensors, rng = rng_state()
    opt_state = opt.state_dict()
    tensors = {**{"model." + k: v for k, v in model.state_dict().items()},
               **{f"optim.{i}.{name}": t for i, s in opt_state["state"].items() for name, t in s.items()},
               **{"best." + k: v for k, v in (best_state or {}).items()}, **rng_tensors}
    record = {**progress, "config": config, "rng": rng, "param_groups": opt_state["param_groups"],
              "scheduler": plateau.state_dict()}
    return tensors, record


def restore(folder, model, opt, plateau, config: dict, free=()) -> tuple[dict, dict | None] | None:
    """Load the state in folder into model, opt, plateau and the RNGs: (record, best weights or None), or None
    where there is no state. Refuses a state saved with other settings (but those in `free`) or other sizes."""
    found = load(folder)
    if found is None:
        return None
    tensors, record = found
    saved = record.get("config", {})
    differ = [k for k in config if k not in free and saved.get(k) != config[k]]
    if differ:
        raise StateError(f"{folder}: saved by a run with other settings ("
                         + ", ".join(f"{k} {saved.get(k)} then, {config[k]} now" for k in differ)
                         + "); resume with the same flags, or start again with --restart")
    part = {p: {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)} for p in ("model.", "optim.", "best.")}
    own = model.state_dict()
    for name, weights in (("model", part["model."]), ("best", part["best."] or own)):
        if set(weights) != set(own) or any(weights[k].shape != own[k].shape for k in own):
            raise StateError(f"{folder}: the saved {name} weights do not fit this model (other sizes or "
                             "vocabulary?); resume with the same flags and data")
    try:
        model.load_state_dict(part["model."])
        opt_state: dict[int, dict] = {}
        for key, t in part["optim."].items():
            i, name = key.split(".", 1)
            opt_state.setdefault(int(i), {})[name] = t
        opt.load_state_dict({"state": opt_state, "param_groups": record["param_groups"]})
        plateau.load_state_dict(record["scheduler"])
        set_rng_state(tensors, record["rng"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:  # a record with parts missing or mangled
        raise StateError(f"{folder}: incomplete or malformed state ({type(e).__name__}: {e})") from None
    return record, (part["best."] or None)
