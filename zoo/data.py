"""Datasets come from the Hugging Face Hub or from a local copy, through one code path."""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from pathlib import Path
import urllib.request
from urllib.parse import urlparse


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


@contextlib.contextmanager
def _quiet_local(datasets):
    """datasets' "Generating ... split" bars and its log (a folder of other files logs a cast error per file,
    dozens of lines, before the one that load raises and DataUnavailable says) off, put back as they were."""
    was_off, level = datasets.are_progress_bars_disabled(), datasets.logging.get_verbosity()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity(logging.CRITICAL)
    try:
        yield
    finally:
        datasets.logging.set_verbosity(level)
        if not was_off:
            datasets.enable_progress_bars()


PARQUET_REVISION = "refs/convert/parquet"  # the Hub's own parquet export of every dataset repo


def _load_from_hub(datasets, data: str):
    """load_dataset on a Hub id. Since `datasets` 4 a repo that ships a loading script (eriktks/conll2003's
    conll2003.py, behind the canonical "conll2003") is refused ("Dataset scripts are no longer supported");
    the Hub's parquet export of the same repo has the same splits and features, so read that instead."""
    try:
        return datasets.load_dataset(data), None
    except Exception as e:
        if "scripts are no longer supported" not in str(e).lower():
            raise
    print(f"{data} ships a loading script, which this `datasets` refuses; reading its parquet export "
          f"({PARQUET_REVISION})", file=sys.stderr, flush=True)
    return datasets.load_dataset(data, revision=PARQUET_REVISION), PARQUET_REVISION


def _unresolved_hub_host() -> str | None:
    """The Hub's host name where it does not resolve (no network): `datasets` would retry for about 25 s before
    failing. None where it resolves, or where a proxy for the endpoint's scheme resolves names instead."""
    from huggingface_hub import constants
    url = urlparse(constants.ENDPOINT)
    host, proxies = url.hostname, urllib.request.getproxies()
    if (proxies.get(url.scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(host or ""):
        return None
    try:
        socket.getaddrinfo(host, 443)
    except (OSError, UnicodeError):
        return host
    return None


@contextlib.contextmanager
def _offline(on: bool):
    """`datasets` and huggingface_hub in offline mode inside the block (where the Hub cannot be reached): a copy
    in the datasets cache loads at once, and anything else fails at once, not after retries."""
    import datasets
    from huggingface_hub import constants
    before = datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE
    if on:
        datasets.config.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE = before


class DataUnavailable(RuntimeError):
    """The dataset could not be loaded; the message says what to do, in one line."""


def load(data: str):
    """`datasets.load_dataset` on a Hub id (e.g. eriktks/conll2003) or a local folder of parquet splits.

    Returns (DatasetDict, source) where source records where the data came from, for the checkpoint.
    """
    import datasets

    local = Path(data).expanduser()
    if local.is_file():  # datasets reads a folder's splits; one file gave "Couldn't find any data file at" it
        raise DataUnavailable(f"{local} is one file; give the dataset's folder (its splits' parquet files, e.g. "
                              "../shared/datasets/sst2) or a Hub id such as ORG/NAME")
    if local.exists():
        try:
            with _quiet_local(datasets), _quiet_hub():  # a local folder's splits take a second: bars would only clutter
                builder = _one_dataset(datasets, local.resolve()) if local.is_dir() else None
                if builder is None:
                    ds = datasets.load_dataset(str(local.resolve()))
                else:  # what load_dataset does, on the builder whose files were just listed (not listed again)
                    builder.download_and_prepare()
                    ds = builder.as_dataset()
        except DataUnavailable:
            raise
        except Exception as e:  # a folder without loadable splits
            cause = e.__cause__  # DatasetGenerationError says only that something went wrong, and raises from why
            why = f" ({type(cause).__name__}: {(str(cause).splitlines() or [''])[0][:200]})" if cause else ""
            raise DataUnavailable(f"could not read a dataset from {local}: {type(e).__name__}: {e}{why}") from None
        return ds, {"path": str(local), "fingerprint": {k: v._fingerprint for k, v in ds.items()}}
    if data.startswith((".", "/", "~")) or data.count("/") != 1:
        raise DataUnavailable(f"no dataset folder at {data!r}; pass --data PATH to a local copy or a Hub id such as ORG/NAME")
    print(f"loading {data} from the Hugging Face Hub...", file=sys.stderr, flush=True)  # before any network wait
    unreachable = _unresolved_hub_host()
    try:
        with _quiet_hub(), _offline(bool(unreachable)):
            ds, export = _load_from_hub(datasets, data)
    except Exception as e:  # offline, unknown repo, hub error: all end the same way for a user
        why = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        if unreachable:  # offline mode's own words ("Couldn't reach ... (OfflineModeIsEnabled)") would mislead
            none_cached = "couldn't reach" in why.lower() or "offline" in why.lower()
            why = f"{unreachable} does not resolve (no network?)" + (
                ", and no copy was found in the datasets cache" if none_cached else f"; {why}")
        offline = " (offline mode is on)" if os.environ.get("HF_HUB_OFFLINE") or os.environ.get("HF_DATASETS_OFFLINE") else ""
        raise DataUnavailable(f"could not load {data!r} from the Hugging Face Hub{offline}: {why}. "
                              f"Pass --data PATH to a local copy (e.g. ../shared/datasets/...)") from None
    revision = None
    if not unreachable:  # else a copy from the cache, whose commit is not known without the Hub
        try:  # the commit the data came from, so a checkpoint names exactly what it was trained on
            from huggingface_hub import HfApi
            revision = HfApi().dataset_info(data, revision=export).sha
        except Exception:
            pass
    source = {"hub_id": data, "fingerprint": {k: v._fingerprint for k, v in ds.items()}, "revision": revision}
    return ds, {**source, "export": export} if export else source


def _one_dataset(datasets, folder: Path):
    """A split whose files sit in several folders is several datasets (the parent of sst2/ and imdb/):
    load_dataset would merge them when their columns agree, and scores of the mix would read as one dataset's;
    when they disagree it fails with a cast error. One line naming the folders instead. The files are the
    ones datasets itself would read (its builder lists them; no data is read), so every layout it reads as one
    dataset (split folders, a Hub parquet export's config folder, a README's configs) passes. -> the builder,
    to read the data from; None where it cannot be made (load_dataset's own error says why next)."""
    try:
        builder = datasets.load_dataset_builder(str(folder))
        files = builder.config.data_files or {}
    except Exception:  # no data files, an unreadable README
        return None
    for split, paths in files.items():
        empty = [p for p in paths if str(p).endswith(".parquet") and _parquet_rows(str(p)) == 0]
        if empty and len(empty) == len(paths):  # datasets says only "BatchSize must be greater than 0"
            raise DataUnavailable(f"{folder}: its {split} split has no rows ({os.path.relpath(str(empty[0]), folder)})")
        homes = sorted({Path(str(p)).parent for p in paths})
        if len(homes) > 1:
            names = [os.path.relpath(h, folder) for h in homes]
            raise DataUnavailable(f"{folder}: its {split} files sit in {len(homes)} folders, several datasets "
                                  f"({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}): pass one of them")
    return builder


def _parquet_rows(path: str) -> int | None:
    """A parquet file's row count from its footer (nothing else read); None where it cannot be read."""
    try:
        import pyarrow.parquet as pq
        return pq.ParquetFile(path).metadata.num_rows
    except Exception:  # load_dataset's own error says it next
        return None


def require(ds, data: str, splits=(), columns=(), one_of=(), optional=("test",)) -> None:
    """A training script's check of the data it is about to read, before anything is written: each of `splits`
    is there, and each split it reads (those and any `optional` ones present) has every one of `columns` and
    at least one of `one_of`. DataUnavailable, one line naming what is missing, otherwise."""
    missing = [s for s in splits if s not in ds]
    if missing:
        raise DataUnavailable(f"{data}: no {' or '.join(missing)} split (the data has: {', '.join(ds) or 'none'})")
    for name in [*splits, *(s for s in optional if s in ds and s not in splits)]:
        cols = ds[name].column_names
        lack = [c for c in columns if c not in cols]
        if one_of and not any(c in cols for c in one_of):
            lack.append(" or ".join(one_of))
        if lack:
            raise DataUnavailable(f"{data}: the {name} split has no {', '.join(lack)} column "
                                  f"(it has: {', '.join(cols)})")
