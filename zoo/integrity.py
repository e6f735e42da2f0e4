"""File hashes: the manifest of the bundled checkpoints, and the check of files from the Hub cache.

Two kinds of digest, the two the Hugging Face Hub itself uses as a file's identity:
  sha256    of the bytes: the id of an LFS file (model.safetensors), and what MANIFEST.json records
  git sha1  of "blob <size>\\0" + bytes: the id (ETag, blobId) of a small file kept in git (config.json)
The Hub cache names every blob after one of these, so a cached file can be checked offline.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from .checkpoint import CONFIG, CheckpointError

MANIFEST_NAME = "MANIFEST.json"
MANIFEST_FORMAT = "seqzoo-manifest/1"
SHA256 = re.compile(r"[0-9a-f]{64}")
GIT_SHA1 = re.compile(r"[0-9a-f]{40}")
_CHUNK = 1 << 20


class IntegrityError(CheckpointError):
    """A file's bytes differ from the digest recorded for it; the message names the file."""


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def git_sha1_file(path) -> str:
    """The git blob id of a file, which is the ETag the Hub gives files stored in git (not LFS)."""
    h = hashlib.sha1(f"blob {os.path.getsize(path)}\0".encode())
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def digest_matches(path, expected: str) -> bool:
    """Does the file hash to `expected`, read as a sha256 (64 hex digits) or a git sha1 (40)?"""
    expected = expected.strip('"').lower()
    if SHA256.fullmatch(expected):
        return sha256_file(path) == expected
    if GIT_SHA1.fullmatch(expected):
        return git_sha1_file(path) == expected
    raise ValueError(f"{expected!r} is neither a sha256 nor a git sha1")


def cached_blob_digest(path) -> str | None:
    """The digest a Hub-cache file must have: the name of the blob its snapshot link points to.
    None where the cache holds copies instead of links (no symlinks on the platform), so there is no name."""
    name = Path(os.path.realpath(path)).name
    return name if SHA256.fullmatch(name) or GIT_SHA1.fullmatch(name) else None


def folder_entry(folder) -> dict:
    """{file name: {"sha256", "size"}} for every file of a checkpoint folder (hidden files skipped)."""
    folder = Path(folder)
    return {p.name: {"sha256": sha256_file(p), "size": p.stat().st_size}
            for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}


def build_manifest(root) -> dict:
    """The manifest of every checkpoint folder (a folder with config.json) under root."""
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if (p / CONFIG).is_file()) if root.is_dir() else []
    return {"format": MANIFEST_FORMAT, "checkpoints": {p.name: folder_entry(p) for p in folders}}


def write_manifest(root) -> Path:
    path = Path(root) / MANIFEST_NAME
    path.write_text(json.dumps(build_manifest(root), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def update_entry(root, folder) -> None:
    """Record one checkpoint folder's files anew in root's manifest, the others' entries as they were (a bundled
    checkpoint whose config a script rewrote on purpose: train/what_if.py, memory_profile.py)."""
    manifest = read_manifest(root)
    manifest["checkpoints"][Path(folder).name] = folder_entry(folder)
    (Path(root) / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_manifest(root) -> dict:
    path = Path(root) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IntegrityError(f"{path}: missing; run `python -m zoo manifest` after bundling checkpoints") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IntegrityError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise IntegrityError(f"{path}: not a {MANIFEST_FORMAT} manifest")
    return manifest


def check_against_manifest(folder, root) -> None:
    """Refuse a bundled checkpoint whose files differ from what root/MANIFEST.json records for it:
    a changed, missing or extra file is an IntegrityError naming the file."""
    folder = Path(folder)
    recorded = read_manifest(root)["checkpoints"].get(folder.name)
    if recorded is None:
        raise IntegrityError(f"{folder}: not in {Path(root) / MANIFEST_NAME}; run `python -m zoo manifest`")
    present = {p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    for name in sorted(present - set(recorded)):
        raise IntegrityError(f"{folder / name}: not in the manifest (an unrecorded file in a bundled checkpoint)")
    for name, want in sorted(recorded.items()):
        path = folder / name
        if not path.is_file():
            raise IntegrityError(f"{path}: missing (the manifest records it)")
        if path.stat().st_size != want["size"] or sha256_file(path) != want["sha256"]:
            raise IntegrityError(f"{path}: sha256 differs from the manifest (file changed or corrupt; "
                                 f"if the change is intended, run `python -m zoo manifest`)")
