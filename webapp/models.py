"""Which models the app can show, loaded once per process.

A model name such as "ner-lstm" is looked up in $SEQZOO_MODELS_DIR first (a folder of checkpoint
folders: handy before the zoo bundles a task, and for tests), then among the bundled checkpoints via
zoo.load. A model that is missing or broken is reported as a reason string, never raised into the UI,
so one absent task leaves the other tabs working.
"""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import zoo
from zoo.encoder import ARCHS

ENV = "SEQZOO_MODELS_DIR"
DEVICE_ENV = "SEQZOO_DEVICE"  # where the app's models run: cpu (default), auto, cuda, ... (zoo/devices.py)

_cache: dict[str, object] = {}
_failed: dict[str, BaseException] = {}  # a folder that did not load stays out, with its reason, until clear_cache
_lock = threading.Lock()  # guards the dicts; a load runs under its checkpoint's own lock, so cached lookups never wait
_loading: dict[str, threading.Lock] = {}  # queue workers run in threads: load each checkpoint once, not once per worker


def source(name: str) -> str:
    """What zoo.load gets for a model name: a folder under $SEQZOO_MODELS_DIR if there is one, else the name."""
    root = os.environ.get(ENV)
    if root and (Path(root) / name / "config.json").is_file():
        return str(Path(root) / name)
    return name


def load(name: str):
    """The predictor for name (cached), or raise zoo.ModelNotFound / zoo.CheckpointError / ValueError."""
    key = source(name)
    with _lock:
        one = _loading.setdefault(key, threading.Lock())
    with one:
        with _lock:
            if key in _failed:
                raise _failed[key]
            if key in _cache:
                return _cache[key]
        try:
            predictor = zoo.load(key, device=os.environ.get(DEVICE_ENV, "cpu"))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # noqa: B036  (see try_load)
            with _lock:
                _failed[key] = e.with_traceback(None)  # remembered: a broken folder is not reloaded on every request
            raise
        with _lock:
            _cache[key] = predictor
        return predictor


def try_load(name: str):
    """(predictor, None) or (None, reason). Whatever one bad folder raises (a third-party checkpoint can raise
    anything zoo.load did not foresee, a Rust panic included) leaves the model out with its reason; the
    page is built at start-up from these, so one folder must never stop the whole app."""
    try:
        return load(name), None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # noqa: B036  (pyo3's PanicException is a BaseException)
        reason = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        if not isinstance(e, (zoo.ModelNotFound, zoo.CheckpointError)):
            reason = f"{type(e).__name__}: {reason}"
        _notice_once(name, reason)
        return None, reason


_noticed: set[str] = set()


def _notice_once(name: str, reason: str) -> None:
    """One line on stderr per model left out, so whoever starts the app sees why (the page says so too)."""
    if name not in _noticed:
        _noticed.add(name)
        print(f"seqzoo app: {name} left out: {reason}", file=sys.stderr, flush=True)


def for_task(task: str) -> dict[str, tuple]:
    """{arch: (predictor or None, reason or None)} for the three architectures of a task."""
    return {arch: try_load(f"{task}-{arch}") for arch in ARCHS}


def available(task: str) -> list[str]:
    """Names of the task's models that load, e.g. ['ner-rnn', 'ner-lstm', 'ner-bilstm']."""
    return [f"{task}-{a}" for a, (p, _) in for_task(task).items() if p is not None]


def card(predictor) -> dict:
    """What every result column shows about its model: parameters and the test metric from its config."""
    cfg = predictor.config
    metric = cfg.get("metric")
    test = cfg.get("metrics", {}).get("test", {})
    data = cfg.get("data")
    data = data.get("hub_id") or data.get("path") if isinstance(data, dict) else data
    return {"name": getattr(predictor, "name", cfg.get("name")), "arch": cfg.get("arch"),
            "params": sum(p.numel() for p in predictor.model.parameters()),
            "metric": metric, "test": test.get(metric) if metric else None, "data": data}


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _failed.clear()
