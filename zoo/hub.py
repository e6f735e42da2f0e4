"""Checkpoints on the Hugging Face Hub: fetch into the normal HF cache, verify, publish.

    zoo.load("hf://ORG/REPO")                      # or zoo.load("ORG/REPO", revision="v1" or a commit)
    python -m zoo download ORG/REPO                # ask the Hub for the newest commit, fetch what changed
    python -m zoo publish runs/ner-lstm --repo-id ORG/REPO

A load uses the cached copy whenever the cache holds a complete one, so a second load sends no request
and HF_HUB_OFFLINE=1 works; refresh=True (what `download` does) asks the Hub which commit the revision
names now. Every fetched file is checked against the digest the Hub reports for it (the LFS sha256 of
model.safetensors, the git blob id of the small JSON/Markdown files); cached files are re-checked against
the blob name the cache stores them under. A file that fails is removed from the cache and the error
names it. Only JSON, Markdown and safetensors files are fetched: nothing from a repo is ever executed.
"""
from __future__ import annotations

import importlib
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path

from . import card, checkpoint, integrity, limits
from .checkpoint import CARD, CHECKPOINT_FILES, CONFIG, WEIGHTS, HubUnavailable, ModelNotFound

URI_PREFIX = "hf://"
DEFAULT_REVISION = "main"
REQUIRED = (CONFIG, WEIGHTS)
# the Hub's own rule for repo ids: ORG/NAME of letters, digits, "_", "-", "."; no "--" or ".."
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")
_TRUE = {"1", "ON", "YES", "TRUE"}
# seconds the Hub may keep one answer waiting (connect, each read): huggingface_hub's API calls have none, so an
# endpoint that took the connection and never answered (a broken proxy) hung a load with no end
API_TIMEOUT = 60
# the same for each request while an upload runs, whose calls (create_repo, create_commit) take no timeout
# argument: bounded through the request hook below (_bounded_requests)
UPLOAD_TIMEOUT = 120
_bounds: list[float] = []  # the limits of the uploads running now (every thread: huggingface_hub uses a pool)
_bounds_lock = threading.Lock()


def is_repo_id(name: str) -> bool:
    return bool(_REPO_ID.fullmatch(name)) and ".." not in name and "--" not in name


def split_uri(uri: str, revision: str | None = None) -> tuple[str, str | None]:
    """'hf://ORG/REPO@REV' -> ('ORG/REPO', 'REV'). A revision argument must agree with an '@REV' in the URI."""
    repo_id, _, at = uri.removeprefix(URI_PREFIX).partition("@")
    if not is_repo_id(repo_id):
        raise ModelNotFound(f"{uri!r}: not a Hub repo id (expected {URI_PREFIX}ORG/REPO or {URI_PREFIX}ORG/REPO@REVISION)")
    if at and revision and at != revision:
        raise ValueError(f"{uri!r} names revision {at!r} but revision={revision!r} was passed")
    return repo_id, revision or at or None


# Settings are read at call time, not at import: huggingface_hub freezes its constants when first imported,
# and a program (or a test) may set HF_ENDPOINT / HF_HUB_CACHE / HF_HUB_OFFLINE after that.
def endpoint() -> str:
    from huggingface_hub import constants
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def offline() -> bool:
    from huggingface_hub import constants
    return constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in _TRUE


def cache_dir() -> Path:
    from huggingface_hub import constants
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path(constants.HF_HUB_CACHE)


def cached(repo_id: str, revision: str | None = None) -> Path | None:
    """The cached snapshot of repo_id at revision if the cache holds a complete one; no network.
    Complete means the weights are there: a download fetches them last and records refs/<branch> after them."""
    from huggingface_hub import try_to_load_from_cache

    weights = try_to_load_from_cache(repo_id, WEIGHTS, cache_dir=cache_dir(),
                                     revision=revision or DEFAULT_REVISION)
    if not isinstance(weights, str):  # None, or the marker of a file known not to exist
        return None
    folder = Path(weights).parent
    return folder if (folder / CONFIG).is_file() else None


def cached_checkpoints() -> list[tuple[str, Path]]:
    """(repo id, snapshot folder) of every seqzoo checkpoint in the Hub cache, for `python -m zoo list`."""
    found = []
    for storage in sorted(cache_dir().glob("models--*")):
        repo_id = storage.name.removeprefix("models--").replace("--", "/")
        for snap in sorted((storage / "snapshots").glob("*")):
            try:
                limits.check_config(snap, checkpoint.read_config(snap))
            except checkpoint.CheckpointError:
                continue  # another library's model, an incomplete snapshot, or a config zoo.load would refuse
            if (snap / WEIGHTS).is_file():
                found.append((repo_id, snap))
    return found


def _purge(path: Path) -> None:
    """Remove a cached file: the snapshot link and the blob it points to, so no corrupt copy stays."""
    blob = Path(os.path.realpath(path))
    path.unlink(missing_ok=True)
    if blob != path:
        blob.unlink(missing_ok=True)


def _corrupt_cached_files(folder: Path) -> list[str]:
    """Names of the checkpoint files in a cached snapshot whose bytes differ from their blob's name (the
    digest the Hub gave when they were fetched), or whose blob is gone. Each one is removed from the cache."""
    bad = []
    for name in CHECKPOINT_FILES:
        path = folder / name
        if not os.path.lexists(path):
            continue
        want = integrity.cached_blob_digest(path)
        if not path.is_file() or (want and not integrity.digest_matches(path, want)):
            _purge(path)
            bad.append(name)
    if bad:  # the snapshot is incomplete now: without its weights' link cached() no longer offers it, so the
        (folder / WEIGHTS).unlink(missing_ok=True)  # next load downloads it again (or, offline, says to)
    return bad


def fetch(repo_id: str, revision: str | None = None, refresh: bool = False) -> Path:
    """The local folder of a Hub checkpoint: its verified cached snapshot, or a fresh download into the HF cache.
    refresh=True asks the Hub which commit the revision names now (offline, the cache is all there is)."""
    revision = revision or DEFAULT_REVISION
    where = f"Hub repo {repo_id}@{revision}"
    folder = cached(repo_id, revision) if not refresh or offline() else None
    if folder is not None:
        bad = _corrupt_cached_files(folder)
        if not bad:
            return folder
        if offline():
            raise integrity.IntegrityError(
                f"{where}: cached {', '.join(bad)} did not match the Hub's digest and was removed from the cache "
                f"({folder}); offline mode is on, so it cannot be downloaded again now")
    if offline():
        raise HubUnavailable(f"{where}: not in the Hub cache at {cache_dir()} and offline mode is on (HF_HUB_OFFLINE); "
                             f"run `python -m zoo download {repo_id}{'' if revision == DEFAULT_REVISION else f' --revision {revision}'}` "
                             "with network access first")
    return _download(repo_id, revision)


def _download(repo_id: str, revision: str) -> Path:
    from huggingface_hub import HfApi, hf_hub_download

    hub = endpoint()
    where = f"Hub repo {repo_id}@{revision} at {hub}"
    try:  # one request: the commit the revision names now, and each file's size and digest
        info = HfApi(endpoint=hub, library_name="seqzoo").model_info(repo_id, revision=revision, files_metadata=True,
                                                                     timeout=API_TIMEOUT)
    except _transport_errors() as e:
        raise _hub_error(e, where) from None
    files = {s.rfilename: s for s in info.siblings or ()}
    missing = [f for f in REQUIRED if f not in files]
    if missing:
        raise checkpoint.CheckpointError(f"{where}: not a seqzoo checkpoint (no {' or '.join(missing)} in the repo)")
    # the weights last: their presence marks a snapshot complete (see cached()). Asked for by the revision's
    # name, so huggingface_hub itself records which commit the branch or tag names in its cache; each file
    # must come from the commit model_info reported, or the repo moved on during the download.
    wanted = [f for f in CHECKPOINT_FILES if f in files and f not in REQUIRED] + list(REQUIRED)
    for name in wanted:
        try:
            path = Path(hf_hub_download(repo_id, name, revision=revision, cache_dir=cache_dir(), endpoint=hub,
                                        library_name="seqzoo"))
        except _transport_errors() as e:
            raise _hub_error(e, f"{where}: {name}") from None
        if path.parent.name != info.sha:
            raise HubUnavailable(f"{where}: the repo got a new commit while {name} was downloading "
                                 f"({info.sha[:8]} then {path.parent.name[:8]}); run the command again")
        _check_download(path, files[name], f"{repo_id}@{info.sha[:8]}/{name}")
    return path.parent


def _check_download(path: Path, sibling, label: str) -> None:
    """Refuse a fetched file unless its bytes match the Hub's digest for it: the LFS sha256 for LFS files
    (the Hub's X-Linked-Etag), else the git blob id (its ETag) - and the name the cache filed it under."""
    lfs = sibling.lfs
    reported = (lfs["sha256"] if lfs else None) or sibling.blob_id
    size = (lfs["size"] if lfs else None) or sibling.size
    wants = {d.lower() for d in (reported, integrity.cached_blob_digest(path)) if d}
    if not wants:
        _purge(path)
        raise integrity.IntegrityError(f"{label}: the Hub reported no digest for it, so it cannot be verified")
    for want in wants:
        if (size is not None and path.stat().st_size != size) or not integrity.digest_matches(path, want):
            _purge(path)
            kind = "sha256" if len(want) == 64 else "git blob id"
            raise integrity.IntegrityError(f"{label}: downloaded bytes do not match the Hub's {kind} {want[:12]}... "
                                           f"(corrupt or truncated); removed from the cache")


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What huggingface_hub raises when talking to the Hub fails: its own errors (OSError subclasses, or
    EntryNotFoundError) and those of the HTTP client it uses, which differ by version (requests, httpx, httpx2)."""
    from huggingface_hub.utils import EntryNotFoundError
    found: list = [OSError, EntryNotFoundError]
    for module in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(module).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _hub_error(e: BaseException, where: str, reading: bool = True) -> Exception:
    """One zoo error, in one line, for whatever went wrong talking to the Hub (reading: fetching, where
    offline mode and the cache are a way on; not an upload)."""
    from huggingface_hub.utils import (EntryNotFoundError, GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError,
                                       OfflineModeIsEnabled, RepositoryNotFoundError, RevisionNotFoundError)
    why = (str(e).strip().splitlines() or [""])[0][:200] or type(e).__name__
    if isinstance(e, RevisionNotFoundError):
        return ModelNotFound(f"{where}: no such revision (404)")
    if isinstance(e, GatedRepoError):
        return HubUnavailable(f"{where}: a gated repo; accept its terms on the Hub and set HF_TOKEN")
    if isinstance(e, RepositoryNotFoundError):  # the Hub answers 401 for a private repo without a token
        status = e.response.status_code if e.response is not None else 404
        return ModelNotFound(f"{where}: no such model repo (HTTP {status}; a private repo needs HF_TOKEN)")
    if isinstance(e, OfflineModeIsEnabled):
        return HubUnavailable(f"{where}: offline mode is on (HF_HUB_OFFLINE)")
    if isinstance(e, EntryNotFoundError) and not isinstance(e, LocalEntryNotFoundError):
        return checkpoint.CheckpointError(f"{where}: the Hub lists the file but has no such file (404)")
    if isinstance(e, OSError) and "consistency check failed" in str(e).lower():
        return integrity.IntegrityError(f"{where}: truncated download (size differs from what the Hub reports); "
                                        f"nothing was kept in the cache")
    if isinstance(e, HfHubHTTPError) and e.response is not None:
        return HubUnavailable(f"{where}: the Hub answered HTTP {e.response.status_code} ({why})")
    return HubUnavailable(f"{where}: could not reach the Hub ({type(e).__name__}: {why}); check the network and "
                          "HF_ENDPOINT" + (", or set HF_HUB_OFFLINE=1 to use cached models only" if reading else ""))


def _bound_timeout(request) -> None:
    """huggingface_hub's client's request hook: while an upload runs (_bounded_requests), a request's timeouts
    that are None (huggingface_hub's default: wait without end) become its limit; otherwise nothing changes."""
    limit = max(_bounds, default=None)
    if limit is not None:
        timeout = request.extensions.get("timeout") or {}
        request.extensions = {**request.extensions, "timeout": {
            k: limit if timeout.get(k) is None else timeout[k] for k in ("connect", "read", "write", "pool")}}


@contextmanager
def _bounded_requests(seconds: float):
    """While this block runs, requests through huggingface_hub's shared client (from any thread: it sends
    some from a pool) wait at most `seconds` for each step (connect, a read, a write); a request that has a
    timeout keeps it. (hf_xet, where it sends the weights' bytes, has its own client and timeouts.) The client
    keeps the user's settings (a proxy, certificates): only a hook that does nothing outside such a block is
    added to it. (huggingface_hub makes a new client
    after a failed connection, without the hook: a Hub that refuses once and then goes silent can still hang.)"""
    from huggingface_hub.utils import get_session

    session = get_session()
    hooks = session.event_hooks
    if _bound_timeout not in hooks["request"]:
        session.event_hooks = {**hooks, "request": [*hooks["request"], _bound_timeout]}
    with _bounds_lock:
        _bounds.append(seconds)
    try:
        yield
    finally:
        with _bounds_lock:
            _bounds.remove(seconds)


def upload(folder, repo_id: str, config: dict, private: bool | None = None, token: str | None = None,
           message: str | None = None) -> str:
    """Create (or update) the Hub model repo repo_id with the checkpoint files in folder and a model card
    generated from config; returns the commit URL. Needs a token with write access (HF_TOKEN or `hf auth
    login`). zoo.registry.publish checks first that the folder loads."""
    from huggingface_hub import CommitOperationAdd, HfApi, get_token

    folder = Path(folder)
    token = token or get_token()
    if not token:
        raise HubUnavailable(f"publishing to {repo_id} needs a Hub token with write access: "
                             f"set HF_TOKEN or run `hf auth login`")
    ops = [CommitOperationAdd(path_in_repo=n, path_or_fileobj=str(folder / n))
           for n in CHECKPOINT_FILES if n != CARD and (folder / n).is_file()]
    # the card is regenerated so its "how to load" names the Hub repo rather than the local folder
    ops.append(CommitOperationAdd(path_in_repo=CARD, path_or_fileobj=card.render(config, f"{URI_PREFIX}{repo_id}").encode()))
    api = HfApi(endpoint=endpoint(), token=token, library_name="seqzoo")
    try:
        with _bounded_requests(UPLOAD_TIMEOUT):
            api.create_repo(repo_id, private=private, exist_ok=True)
            commit = api.create_commit(repo_id, ops, commit_message=message or
                                       f"Upload {config.get('name', folder.name)} ({config['task']}, {config.get('arch')})")
    except _transport_errors() as e:
        raise _hub_error(e, f"publishing to Hub repo {repo_id} at {api.endpoint}", reading=False) from None
    return commit.commit_url
