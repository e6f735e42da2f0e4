"""Names -> checkpoints, and checkpoints -> ready predictors. A plain dict, not a framework.

Bundled checkpoints live in zoo/checkpoints/<task>-<arch>/, their sha256s in zoo/checkpoints/MANIFEST.json.
A task is a module in tasks/ with `build_model(config)` and a `Predictor(model, config, files)` class.
A name resolves to a local folder first, then a bundled name, then a Hugging Face Hub repo (zoo/hub.py).
"""
from __future__ import annotations

import importlib
from pathlib import Path

import torch

from . import checkpoint, integrity

TASKS = {"ner": "tasks.ner", "sentiment": "tasks.sentiment", "caption": "tasks.caption"}
BUNDLED = Path(__file__).parent / "checkpoints"
TEXT_FILES = ("tokenizer.json",)  # small text files a checkpoint may carry besides config.json
CARD = "README.md"  # the model card (zoo/card.py); for people and the Hub, never read by a predictor
CHECKPOINT_FILES = ("config.json", "model.safetensors", *TEXT_FILES, CARD)  # what a Hub download fetches


class ModelNotFound(LookupError):
    """Nothing matched the name or path; the message lists what was tried."""


class HubUnavailable(ModelNotFound):
    """The Hub could not be reached (or refused the request) and the cache cannot stand in. A ModelNotFound,
    so one `except zoo.ModelNotFound` covers every way a load can come back empty-handed."""


def list_models() -> list[str]:
    """Names of the bundled checkpoints, e.g. ['ner-bilstm', 'ner-lstm', 'ner-rnn']."""
    return sorted(p.name for p in BUNDLED.iterdir() if (p / "config.json").is_file()) if BUNDLED.is_dir() else []


def resolve(name_or_path, revision: str | None = None, refresh: bool = False) -> Path:
    """A local folder first, then a bundled name (checked against MANIFEST.json), then a Hub repo ORG/REPO;
    "hf://ORG/REPO[@REVISION]" goes straight to the Hub. `revision` (branch, tag or commit) and `refresh`
    (ask the Hub for the revision's newest commit rather than use the cached copy) apply to Hub repos only."""
    from . import hub  # imports huggingface_hub only when a Hub repo is actually fetched

    name = str(name_or_path)
    if name.startswith(hub.URI_PREFIX):
        return hub.fetch(*hub.split_uri(name, revision), refresh=refresh)
    path = Path(name).expanduser()
    tried = [f"local folder {path}"]
    local = None
    if path.is_dir():
        local = path
    elif "/" not in name and "\\" not in name and name not in (".", ".."):
        tried.append(f"bundled model {name!r} (have: {', '.join(list_models()) or 'none'})")
        if name in list_models():
            local = BUNDLED / name
            integrity.check_against_manifest(local, BUNDLED)
    if local is not None:
        if revision is not None:
            raise ValueError(f"revision={revision!r} applies to Hub repos; {name!r} is {local}")
        return local
    if hub.is_repo_id(name):
        try:
            return hub.fetch(name, revision, refresh=refresh)
        except ModelNotFound as e:  # same type (HubUnavailable stays HubUnavailable), with the local tries first
            raise type(e)(f"no checkpoint {name!r}; tried " + "; ".join([*tried, str(e)])) from None
    raise ModelNotFound(f"no checkpoint {name!r}; tried " + "; ".join(tried)
                        + f" (a Hub repo would be ORG/REPO or {hub.URI_PREFIX}ORG/REPO)")


def task_module(task: str):
    if task not in TASKS:
        raise checkpoint.CheckpointError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    return importlib.import_module(TASKS[task])


def load(name_or_path, revision: str | None = None, refresh: bool = False):
    """A predictor for a checkpoint folder, a bundled name or a Hub repo: `.predict(...)`, `.model`, `.config`."""
    folder = resolve(name_or_path, revision=revision, refresh=refresh)
    config = checkpoint.read_config(folder)
    task = task_module(config["task"])
    try:
        with torch.device("meta"):  # sizes from config.json, checked against the file before any allocation
            checkpoint.check_shapes(folder, task.build_model(config))
        model = checkpoint.load_weights(folder, task.build_model(config))
        files = {n: (folder / n).read_text(encoding="utf-8") for n in TEXT_FILES if (folder / n).is_file()}
        predictor = task.Predictor(model, config, files)
    except checkpoint.CheckpointError:
        raise
    except Exception as e:  # a config or tokenizer.json that parses but cannot build a model: name it, one line
        raise checkpoint.CheckpointError(f"{folder}: config.json or tokenizer.json does not describe a usable "
                                         f"{config['task']} model ({type(e).__name__}: {str(e)[:200]})") from None
    predictor.name, predictor.folder = config.get("name", folder.name), folder
    return predictor
