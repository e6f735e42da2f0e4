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
from safetensors.torch import save_file

from . import card, interrupt

FORMAT = "seqzoo/1"
CONFIG, WEIGHTS = "config.json", "model.safetensors"
TOKENIZER = "tokenizer.json"
TEXT_FILES = (TOKENIZER,)  # small text files a checkpoint may carry besides config.json
CARD = "README.md"  # the model card (zoo/card.py); for people and the Hub, never read by a predictor
EXPORT_PRECISIONS = ("fp32", "int8")  # what an ONNX export's network may be (zoo/export.py)
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
         dtype: torch.dtype | None = torch.float16, load_as: str | None = None) -> Path:
    """Write model weights (cast to dtype), config, extra text files and a model card into folder, atomically.
    The card (README.md) is generated from the final config unless `files` brings one; its loading example
    names load_as (default: the folder's path)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.to(dtype) if dtype and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}
    config = {"format": FORMAT, **config, "dtype": str(dtype or "float32").replace("torch.", ""),
              "versions": config.get("versions") or versions()}
    files = {CARD: card.render(config, load_as=load_as or str(folder)), **(files or {})}
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        save_file(state, str(tmp / WEIGHTS), metadata={"format": "pt"})
        (tmp / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        open_as_umask_allows(tmp)
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        with interrupt.held():  # Ctrl-C between the two renames would leave nothing at folder
            if folder.exists():  # swap in the new folder, then drop the old one (a training state with it)
                os.replace(folder, old)
            os.replace(tmp, folder)
            interrupt.keep(f"the checkpoint is saved in {folder}")
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def rewrite(folder, model: torch.nn.Module, config: dict, load_as: str | None = None) -> Path:
    """Save a changed config.json (decoding chosen again, a profile added) beside the same weights: they are
    written back in the dtype they were stored in, so not a bit changes, and the text files are kept; the
    card is regenerated from the new config."""
    files = read_text_files(folder)
    dtype = getattr(torch, config.get("dtype", "float16"))
    return save(folder, model, {k: v for k, v in config.items() if k not in ("format", "dtype")}, files=files, dtype=dtype,
                load_as=load_as)


MAX_CONFIG_BYTES = 4_000_000      # config.json: the bundled ones are a few kB (history and characters included)
MAX_TEXT_FILE_BYTES = 64_000_000  # tokenizer.json: a 1,000,000-word vocabulary is about 30 MB
MAX_JSON_DEPTH = 32               # seqzoo's own files nest 6 deep


def read_json(path: Path, max_bytes: int):
    """A checkpoint's JSON file, parsed, or a CheckpointError naming it: too large, not UTF-8, not JSON, or
    nested deeper than MAX_JSON_DEPTH (a crafted file of 10,000 brackets would raise RecursionError)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise CheckpointError(f"{path}: {size:,} bytes; the limit is {max_bytes:,}")
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except ValueError as e:  # not UTF-8, not JSON, or a number of over 4,300 digits (Python's own limit)
        raise CheckpointError(f"{path}: not valid JSON ({str(e)[:200]})") from None
    except RecursionError:
        raise CheckpointError(f"{path}: nested more than {MAX_JSON_DEPTH} levels deep") from None
    level, depth = [value], 0
    while level:  # breadth first, without recursion
        depth += 1
        if depth > MAX_JSON_DEPTH:
            raise CheckpointError(f"{path}: nested more than {MAX_JSON_DEPTH} levels deep")
        level = [c for v in level if isinstance(v, (dict, list)) for c in (v.values() if isinstance(v, dict) else v)]
    return value


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it (os.umask sets it to read it, and a
    thread writing a file meanwhile would get the wrong mode)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def open_as_umask_allows(folder: Path) -> None:
    """A folder about to become a checkpoint, and its files, readable as the user's umask allows, like any file
    they write: mkdtemp makes its folder 0700 and safetensors writes 0600, so a server running as another user
    could not load what training wrote."""
    mask = _umask()
    for path in (folder, *Path(folder).rglob("*")):
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)


def own_file(folder, name: str) -> Path | None:
    """folder/name if it is a file of the checkpoint, None if absent. A link that leads out of the folder is a
    CheckpointError: nothing is read from outside a checkpoint's folder (a crafted folder's model.safetensors
    linked to ../elsewhere loaded and predicted). A Hugging Face cache snapshot's links into its own repo's
    blobs/ are its layout and allowed (zoo.hub checks those files against their digests)."""
    path = Path(folder) / name
    if not path.is_file():
        return None
    home, real = Path(folder).resolve(), path.resolve()
    allowed = [home] + ([home.parent.parent / "blobs"] if home.parent.name == "snapshots" else [])
    if not any(real.is_relative_to(a) for a in allowed):
        raise CheckpointError(f"{path}: a link to a file outside the checkpoint's folder ({real}); "
                              "a checkpoint's files must be its own")
    return path


def read_config(folder) -> dict:
    path = Path(folder) / CONFIG
    if own_file(folder, CONFIG) is None:
        raise CheckpointError(f"{path}: missing; a seqzoo checkpoint is a folder with config.json and model.safetensors")
    config = read_json(path, MAX_CONFIG_BYTES)
    if not isinstance(config, dict) or config.get("format") != FORMAT or not isinstance(config.get("task"), str):
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint config (needs 'format': '{FORMAT}' and 'task' as text)")
    return config


def read_text_files(folder, required=()) -> dict[str, str]:
    """The checkpoint's small text files by name; a file in `required` that is absent is an error naming it."""
    folder = Path(folder)
    for name in required:
        if own_file(folder, name) is None:
            raise CheckpointError(f"{folder / name}: missing; this task's checkpoints carry it")
    out = {}
    for name in TEXT_FILES:
        path = own_file(folder, name)
        if path is None:
            continue
        try:
            if path.stat().st_size > MAX_TEXT_FILE_BYTES:
                raise CheckpointError(f"{path}: {path.stat().st_size:,} bytes; the limit is {MAX_TEXT_FILE_BYTES:,}")
            out[name] = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError) as e:
            raise CheckpointError(f"{path}: cannot be read as UTF-8 text ({e})") from None
    return out


def _weights_path(folder) -> Path:
    path = own_file(folder, WEIGHTS)
    if path is None:
        raise CheckpointError(f"{Path(folder) / WEIGHTS}: missing")
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


FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")  # as a safetensors header names them; the models' weights are all float


def _header(path: Path) -> dict[str, tuple[tuple, str]]:
    """name -> (shape, dtype) from the file's header alone."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None


def _check_header(path: Path, own: dict) -> None:
    """own: tensor name -> shape. Names, shapes and dtypes, from the header: an int64 or bool tensor of the
    right shape would load and then answer nonsense (or fail at the first prediction)."""
    found = _header(path)
    _check_fit(path, own, {k: s for k, (s, _) in found.items()})
    wrong = sorted(f"{k} ({d})" for k, (_, d) in found.items() if d not in FLOAT_DTYPES)
    if wrong:
        raise CheckpointError(f"{path}: weights must be floating point; got {', '.join(wrong[:5])}")


def check_shapes(folder, skeleton: torch.nn.Module) -> None:
    """Compare the tensors a model needs with those model.safetensors holds, reading only the file's header.
    Build the skeleton on the meta device: then a config claiming huge sizes allocates nothing."""
    _check_header(_weights_path(folder), {k: v.shape for k, v in skeleton.state_dict().items()})


@torch.no_grad()
def load_weights(folder, model: torch.nn.Module) -> torch.nn.Module:
    """Load model.safetensors into model (as float32). A missing, unexpected, mis-shaped or non-float tensor,
    or a NaN or infinite weight, is an error. Tensors are read one at a time and copied into the model, so
    loading needs the model plus one tensor, not a second copy of the whole file."""
    path = _weights_path(folder)
    own = model.state_dict()
    _check_header(path, {k: v.shape for k, v in own.items()})
    broken = []
    try:
        with safe_open(str(path), framework="pt") as f:
            for k in f.keys():
                t = f.get_tensor(k)
                # a NaN or infinite weight (a corrupt file, or float16 overflow when saving) makes every answer NaN
                if not torch.isfinite(t).all():
                    broken.append(k)
                own[k].copy_(t)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    if broken:
        broken.sort()
        raise CheckpointError(f"{path}: NaN or infinite weights in {', '.join(broken[:5])}{' ...' if len(broken) > 5 else ''}")
    return model
