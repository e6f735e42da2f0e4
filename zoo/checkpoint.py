"""The one checkpoint format: a folder with config.json, model.safetensors and any small text files.

    my-model/
      config.json        task, arch, sizes, labels, data source, metrics, training command, versions
      model.safetensors  the weights (float16 for the bundled zoo; loaded back as float32)
      tokenizer.json     the vocabulary, where the task has one
      README.md          the model card, generated from config.json (zoo/card.py)

Nothing is unpickled: JSON and safetensors only. A folder is written to a temporary name and renamed,
so a crash never leaves a half-written checkpoint behind.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from . import card

FORMAT = "seqzoo/1"
CONFIG, WEIGHTS = "config.json", "model.safetensors"
TOKENIZER = "tokenizer.json"
TEXT_FILES = (TOKENIZER,)  # small text files a checkpoint may carry besides config.json
CARD = "README.md"  # the model card (zoo/card.py); for people and the Hub, never read by a predictor
CHECKPOINT_FILES = (CONFIG, WEIGHTS, *TEXT_FILES, CARD)  # what a Hub download fetches


class CheckpointError(RuntimeError):
    """A checkpoint folder that cannot be used; the message names the file and the problem."""


class ModelNotFound(LookupError):
    """Nothing matched the name or path; the message lists what was tried."""


class HubUnavailable(ModelNotFound):
    """The Hub could not be reached (or refused the request) and the cache cannot stand in. A ModelNotFound,
    so one `except zoo.ModelNotFound` covers every way a load can come back empty-handed."""


def versions() -> dict:
    import importlib.metadata as md
    out = {"python": platform.python_version(), "torch": torch.__version__}
    for pkg in ("seqzoo", "datasets", "tokenizers"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def save(folder, model: torch.nn.Module, config: dict, files: dict[str, str] | None = None,
         dtype: torch.dtype | None = torch.float16) -> Path:
    """Write model weights (cast to dtype), config, extra text files and a model card into folder, atomically.
    The card (README.md) is generated from the final config unless `files` brings one."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.to(dtype) if dtype and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}
    config = {"format": FORMAT, **config, "dtype": str(dtype or "float32").replace("torch.", ""),
              "versions": config.get("versions") or versions()}
    files = {"README.md": card.render(config, load_as=str(folder)), **(files or {})}
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        if folder.exists():  # swap in the new folder, then drop the old one
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def read_config(folder) -> dict:
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; a seqzoo checkpoint is a folder with config.json and model.safetensors")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT or "task" not in config:
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint config (needs 'format': '{FORMAT}' and 'task')")
    return config


def read_text_files(folder, required=()) -> dict[str, str]:
    """The checkpoint's small text files by name; a file in `required` that is absent is an error naming it."""
    folder = Path(folder)
    for name in required:
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder / name}: missing; this task's checkpoints carry it")
    try:
        return {n: (folder / n).read_text(encoding="utf-8") for n in TEXT_FILES if (folder / n).is_file()}
    except (UnicodeDecodeError, OSError) as e:
        raise CheckpointError(f"{folder}: a text file cannot be read ({e})") from None


def _weights_path(folder) -> Path:
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    return path


def _check_fit(path: Path, own: dict, found: dict) -> None:
    """own, found: tensor name -> shape, as the model is built and as the file holds them."""
    missing = sorted(set(own) - set(found))
    unexpected = sorted(set(found) - set(own))
    wrong = sorted(k for k in set(own) & set(found) if tuple(own[k]) != tuple(found[k]))
    if missing or unexpected or wrong:
        parts = [f"{what}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
                 for what, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise CheckpointError(f"{path}: does not fit the model its config describes ({'; '.join(parts)})")


def check_shapes(folder, skeleton: torch.nn.Module) -> None:
    """Compare the tensors a model needs with those model.safetensors holds, reading only the file's header.
    Build the skeleton on the meta device: then a config claiming huge sizes allocates nothing."""
    path = _weights_path(folder)
    try:
        with safe_open(str(path), framework="pt") as f:
            found = {k: f.get_slice(k).get_shape() for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    _check_fit(path, {k: v.shape for k, v in skeleton.state_dict().items()}, found)


def load_weights(folder, model: torch.nn.Module) -> torch.nn.Module:
    """Load model.safetensors into model (as float32). A missing, unexpected or mis-shaped tensor, or a
    NaN or infinite weight, is an error."""
    path = _weights_path(folder)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    own = model.state_dict()
    _check_fit(path, {k: v.shape for k, v in own.items()}, {k: v.shape for k, v in state.items()})
    # a NaN or infinite weight (a corrupt file, or float16 overflow when saving) would make every answer NaN
    broken = sorted(k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all())
    if broken:
        raise CheckpointError(f"{path}: NaN or infinite weights in {', '.join(broken[:5])}{' ...' if len(broken) > 5 else ''}")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
    return model
