"""Names -> checkpoints, and checkpoints -> ready predictors. A plain dict, not a framework.

Bundled checkpoints live in zoo/checkpoints/<name>/, their sha256s in zoo/checkpoints/MANIFEST.json.
A name resolves to a local folder first, then a bundled name, then a Hugging Face Hub repo (zoo/hub.py);
the checkpoint's config.json names its task, and zoo/task_table.py the module that builds it.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from . import checkpoint, devices, integrity, limits, onnx_run
from . import precision as precision_mod
from .checkpoint import CheckpointError, HubUnavailable, ModelNotFound  # noqa: F401  (zoo.registry.ModelNotFound)
from .precision import PRECISIONS
from .task_table import task_module

BUNDLED = Path(__file__).parent / "checkpoints"


def list_models() -> list[str]:
    """Names of the bundled checkpoints, e.g. ['caption-bilstm', ..., 'ner-rnn', 'sentiment-bilstm', ...]."""
    return sorted(p.name for p in BUNDLED.iterdir() if (p / checkpoint.CONFIG).is_file()) if BUNDLED.is_dir() else []


def resolve(name_or_path, revision: str | None = None, refresh: bool = False) -> Path:
    """A local folder first, then a bundled name (checked against MANIFEST.json), then a Hub repo ORG/REPO;
    "hf://ORG/REPO[@REVISION]" goes straight to the Hub. `revision` (branch, tag or commit) and `refresh`
    (ask the Hub for the revision's newest commit rather than use the cached copy) apply to Hub repos only."""
    from . import hub  # imports huggingface_hub only when a Hub repo is actually fetched

    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"a model is named by a name, a folder or hf://ORG/REPO, got {type(name_or_path).__name__}")
    name = str(name_or_path)
    if not name.strip():  # "" would be the current folder
        raise ValueError("a model is named by a name, a folder or hf://ORG/REPO, got an empty name")
    if name.startswith(hub.URI_PREFIX):
        return hub.fetch(*hub.split_uri(name, revision), refresh=refresh)
    path = Path(name).expanduser()
    tried = [f"local folder {path}"]
    local = None
    bare = "/" not in name and "\\" not in name and name not in (".", "..")
    here, bundled_name = path.is_dir(), bare and name in list_models()
    if here and bundled_name and is_bundled(path):
        here = False  # the bundled folder itself (run from zoo/checkpoints): loaded as bundled, against the manifest
    if here and bundled_name and not (path / checkpoint.CONFIG).is_file():  # a folder here named like a bundled model
        warnings.warn(f"./{name} is a folder without a checkpoint; loading the bundled {name}", stacklevel=3)
        here = False
    if here:
        local = path
        if bundled_name:
            warnings.warn(f"./{name}, a checkpoint folder here, is loaded instead of the bundled {name} "
                          f"({BUNDLED / name} names that one)", stacklevel=3)
    elif bare:
        tried.append(f"bundled model {name!r} (have: {', '.join(list_models()) or 'none'})")
        if bundled_name:
            local = BUNDLED / name
            integrity.check_against_manifest(local, BUNDLED)
    if local is not None:
        if revision is not None:
            also = f" (hf://{name} names the Hub repo)" if here and hub.is_repo_id(name) else ""
            raise ValueError(f"a revision ({revision!r}) applies to Hub repos; {name!r} is "
                             + (f"the local folder {local}" if here else str(local)) + also)
        return local
    if path.is_file():  # a checkpoint is a folder: a file of one names its folder (before ORG/REPO: run1/x.json)
        inside = (path.parent / checkpoint.CONFIG).is_file()
        raise ModelNotFound(f"{name} is a file; a checkpoint is a folder (config.json, model.safetensors, "
                            "tokenizer.json)" + (f": load its folder, {path.parent}" if inside else ""))
    if hub.is_repo_id(name):
        try:
            return hub.fetch(name, revision, refresh=refresh)
        except ModelNotFound as e:  # same type (HubUnavailable stays HubUnavailable), with the local tries first
            raise type(e)(f"no checkpoint {name!r}; tried " + "; ".join([*tried, str(e)])) from None
    raise ModelNotFound(f"no checkpoint {name!r}; tried " + "; ".join(tried)
                        + f" (a Hub repo would be ORG/REPO or {hub.URI_PREFIX}ORG/REPO)")


def load(name_or_path, revision: str | None = None, refresh: bool = False, precision: str | None = None,
         device: str | None = "cpu"):
    """A predictor for a checkpoint folder, a bundled name or a Hub repo: `.predict(...)`, `.model`, `.config`.
    precision: "fp32", "bf16" or "int8" (zoo/precision.py); None: as the checkpoint is (fp32; an int8
    export's int8). A folder written by `python -m zoo export`
    runs its network in onnxruntime (zoo/onnx_run.py); `.runtime` says which ("torch" or "onnxruntime").
    device: "cpu", "auto", "cuda", "cuda:N" or "mps" (zoo/devices.py); checkpoints are device-free, so one
    trained on a GPU loads here, and inputs follow the model to its device."""
    if precision is not None and precision not in PRECISIONS:  # before any file is read: a typo is the caller's error, not the checkpoint's
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    # device None: the default, as precision=None is; DeviceUnavailable (a ValueError) for one that is not here
    where = devices.resolve("cpu" if device is None else device, flag="device=")
    folder = resolve(name_or_path, revision=revision, refresh=refresh)
    config = checkpoint.read_config(folder)
    try:
        task = task_module(config["task"])
    except LookupError as e:
        raise CheckpointError(f"{folder / checkpoint.CONFIG}: {e}") from None
    files = checkpoint.read_text_files(folder, required=getattr(task, "FILES", ()))
    # bounds and kinds from the JSON alone, before a model is built from it (zoo/limits.py)
    limits.check_config(folder, config)
    tokenizer = limits.check_tokenizer(folder, files[checkpoint.TOKENIZER]) if checkpoint.TOKENIZER in files else None
    try:
        with torch.device("meta"):  # sizes from config.json, checked against the file before any allocation
            skeleton = task.build_model(config)
            limits.check_parts(folder, config, skeleton, tokenizer)
            checkpoint.check_shapes(folder, skeleton)
        model = checkpoint.load_weights(folder, task.build_model(config))
        with limits.panic_guard(folder):
            predictor = task.Predictor(model, config, files)
    except CheckpointError:
        raise
    except Exception as e:  # a config or tokenizer.json that parses but cannot build a model: name it, one line
        raise CheckpointError(f"{folder}: config.json or tokenizer.json does not describe a usable "
                              f"{config['task']} model ({type(e).__name__}: {str(e)[:200]})") from None
    predictor.name, predictor.folder, predictor.runtime = config.get("name", folder.name), folder, "torch"
    if config.get("onnx"):  # an exported folder (zoo/export.py): the network itself runs in onnxruntime
        from .export import graphs
        sessions = onnx_run.folder_sessions(folder, config["onnx"])
        onnx_run.check_graphs(folder, config["onnx"], sessions,
                              {n: (g.inputs, g.outputs) for n, g in graphs(predictor).items()})
        onnx_run.attach(model, task, sessions)
        predictor.runtime = "onnxruntime"
    if where.type != "cpu":
        if predictor.runtime != "torch" or precision == "int8":
            raise ValueError(f"device {device!r}: onnxruntime models (int8, exported folders) run on the CPU here")
        model.to(where)
    return precision_mod.apply(predictor, precision)


def require_rewritable(predictor) -> None:
    """What rewrite_config needs, for a script to check before its work: a checkpoint, not an ONNX export (whose
    graphs hold the network; a rewrite keeps only the checkpoint's own files and would drop them)."""
    if predictor.config.get("onnx"):
        raise CheckpointError(f"{predictor.folder} is an ONNX export; run the script on the checkpoint it was "
                              "exported from, then export that again")


def is_bundled(folder) -> bool:
    """Whether a checkpoint folder is one of the bundled ones (its files are recorded in MANIFEST.json)."""
    return Path(folder).resolve().parent == BUNDLED.resolve()


def inside_bundled(path) -> bool:
    """Whether a path is in the bundled models' folder, where no command writes a new folder: it would list as a
    bundled model missing from MANIFEST.json (bundling is a copy and `python -m zoo manifest`). Another checkout's
    bundled folder counts too (a folder whose MANIFEST.json is seqzoo's): a script run from one clone imports the
    zoo package installed from another, whose BUNDLED is not that clone's."""
    path = Path(path).expanduser().resolve()
    if path.is_relative_to(BUNDLED.resolve()):
        return True
    for parent in path.parents:
        if not (parent / integrity.MANIFEST_NAME).is_file():  # a stat per folder; a FIFO there is never read
            continue
        try:
            integrity.read_manifest(parent)
            return True
        except (OSError, integrity.IntegrityError):  # unreadable, or not a seqzoo manifest
            continue
    return False


def rewrite_config(predictor, config: dict) -> Path:
    """checkpoint.rewrite for a loaded predictor's folder (a script recording a profile or the chosen decoding in
    its config); a bundled checkpoint's manifest entry is recorded anew with it, or the next load would refuse
    the rewritten file as changed."""
    require_rewritable(predictor)
    folder = Path(predictor.folder)
    bundled = is_bundled(folder)
    # a bundled card shows zoo.load(NAME), not this machine's path to it
    path = checkpoint.rewrite(folder, predictor.model, config, load_as=folder.name if bundled else None)
    if bundled:
        integrity.update_entry(BUNDLED, folder)
    return path


def publish(folder, repo_id: str, private: bool | None = None, token: str | None = None,
            message: str | None = None) -> str:
    """Create (or update) the Hub model repo repo_id with the checkpoint in folder; returns the commit URL.
    Only what zoo.load can load is published."""
    from . import hub

    folder = Path(folder)
    if not hub.is_repo_id(repo_id):
        raise ValueError(f"{repo_id!r}: not a Hub repo id (ORG/NAME)")
    if not folder.is_dir():
        raise ModelNotFound(f"no checkpoint folder {folder}")
    config = load(folder).config
    if config.get("onnx"):  # its graphs are made for the CPU that exported them (int8's weight range); and the
        # Hub repo would carry the checkpoint's files alone, which then name graphs it lacks
        raise ValueError(f"{folder} is an ONNX export; publish the checkpoint it came from, and export where it runs")
    return hub.upload(folder, repo_id, config, private=private, token=token, message=message)
