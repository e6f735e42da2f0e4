"""Datasets come from the Hugging Face Hub or from a local copy, through one code path."""
from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path


@contextlib.contextmanager
def _quiet_hub():
    """Hide huggingface_hub's per-retry warnings: an unreachable Hub ends in one line of our own."""
    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hub_log.setLevel(level)


class DataUnavailable(RuntimeError):
    """The dataset could not be loaded; the message says what to do, in one line."""


def load(data: str):
    """`datasets.load_dataset` on a Hub id (e.g. eriktks/conll2003) or a local folder of parquet splits.

    Returns (DatasetDict, source) where source records where the data came from, for the checkpoint.
    """
    import datasets

    local = Path(data).expanduser()
    if local.exists():
        try:
            ds = datasets.load_dataset(str(local.resolve()))
        except Exception as e:  # a folder without loadable splits
            raise DataUnavailable(f"could not read a dataset from {local}: {type(e).__name__}: {e}") from None
        return ds, {"path": str(local), "fingerprint": {k: v._fingerprint for k, v in ds.items()}}
    if data.startswith((".", "/", "~")) or data.count("/") != 1:
        raise DataUnavailable(f"no dataset folder at {data!r}; pass --data PATH to a local copy or a Hub id such as ORG/NAME")
    try:
        with _quiet_hub():
            ds = datasets.load_dataset(data)
    except Exception as e:  # offline, unknown repo, hub error: all end the same way for a user
        why = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        offline = " (offline mode is on)" if os.environ.get("HF_HUB_OFFLINE") or os.environ.get("HF_DATASETS_OFFLINE") else ""
        raise DataUnavailable(f"could not load {data!r} from the Hugging Face Hub{offline}: {why}. "
                              f"Pass --data PATH to a local copy (e.g. ../shared/datasets/...)") from None
    revision = None
    try:  # the commit the data came from, so a checkpoint names exactly what it was trained on
        from huggingface_hub import HfApi
        revision = HfApi().dataset_info(data).sha
    except Exception:
        pass
    return ds, {"hub_id": data, "fingerprint": {k: v._fingerprint for k, v in ds.items()}, "revision": revision}
