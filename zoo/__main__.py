"""python -m zoo list | download NAME|ORG/REPO | evaluate NAME --data PATH_OR_HUB_ID --split test [--precision P]
              | predict NAME --input FILE|-|FOLDER|GLOB | export NAME --format onnx --out DIR
              | publish CHECKPOINT --repo-id ORG/REPO | manifest"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

from . import checkpoint, data, devices, integrity, predict_cli, registry, run_flags
from .path_flag import path_flag
from .precision import PRECISIONS


def _row(name: str, folder, where: str) -> tuple:
    cfg = checkpoint.read_config(folder)
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())  # stat follows the cache's links
    test = cfg.get("metrics", {}).get("test", {})
    key = cfg.get("metric")
    metric = f"{key} {test[key]:.2f}" if isinstance(test.get(key), (int, float)) else "-"
    return (name, cfg["task"], cfg.get("arch", "?"), f"{size / 1e6:.1f} MB", f"test {metric}", where)


def _bundled_row(name: str) -> tuple:
    """A bundled folder's row; one that load would refuse (not in MANIFEST.json, a changed file, a bad config)
    says why in its last column instead of passing for a model that loads."""
    folder = registry.BUNDLED / name
    try:
        integrity.check_against_manifest(folder, registry.BUNDLED)
        return _row(name, folder, "bundled")
    except checkpoint.CheckpointError as e:
        why = str(e).removeprefix(f"{folder}: ").removeprefix(f"{folder}{os.sep}")
        try:
            row = _row(name, folder, "")
        except checkpoint.CheckpointError:
            row = (name, "-", "-", "-", "-", "")
        return (*row[:5], f"bundled, load refuses it: {why}")


def _print(line: str) -> None:
    """A result line on standard output; a write that fails (a full disk, a closed stream) says where, as
    predict's does, rather than a bare errno."""
    try:
        print(line, flush=True)
    except BrokenPipeError:  # the reader went away: main ends quietly
        raise
    except OSError as e:
        raise ValueError(f"standard output: cannot write ({e.strerror or type(e).__name__})") from None


def cmd_list(args) -> int:
    rows = [_bundled_row(name) for name in registry.list_models()]
    from . import hub
    rows += [_row(f"{hub.URI_PREFIX}{repo_id}", snap, f"hub cache @{snap.name[:8]}")
             for repo_id, snap in hub.cached_checkpoints()]
    if args.json:
        keys = ("name", "task", "arch", "size", "metric", "where")
        for r in rows:
            _print(json.dumps(dict(zip(keys, r))))
        return 0
    widths = [max(len(str(r[i])) for r in rows + [("name", "task", "arch", "size", "metric", "where")]) for i in range(6)]
    for r in [("name", "task", "arch", "size", "metric", "where"), *rows]:
        _print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def cmd_evaluate(args) -> int:
    devices.resolve(args.device)  # here, for the message to say --device (zoo.load's says device=)
    devices.use_threads(args.threads)
    predictor = registry.load(args.model, revision=args.revision, precision=args.precision, device=args.device)
    ds, source = data.load(args.data)
    if args.split not in ds:
        raise data.DataUnavailable(f"no split {args.split!r} in {args.data}; have {', '.join(ds)}")
    t0 = time.perf_counter()
    metrics = predictor.evaluate(ds[args.split])
    # "folder": which checkpoint answered (a local folder named like a bundled model comes first: zoo.load's order)
    _print(json.dumps({"model": predictor.name, "folder": str(predictor.folder), "split": args.split, "metrics": metrics,
                      "data": args.data, "examples": len(ds[args.split]), "seconds": round(time.perf_counter() - t0, 2),
                      "precision": predictor.precision, "runtime": predictor.runtime}))
    return 0


def cmd_predict(args) -> int:
    return predict_cli.run(args, registry.load)


def cmd_export(args) -> int:
    """Write an ONNX export of a checkpoint (zoo/export.py); prints one JSON line."""
    from . import export
    if registry.inside_bundled(args.out):  # refused as training's --out is
        raise ValueError(f"--out {args.out} is inside the bundled models' folder, where an export would list as a "
                         "bundled model missing from MANIFEST.json; choose another folder")
    out = export.to_onnx(registry.load(args.model, revision=args.revision), args.out, precision=args.precision)
    _print(json.dumps({"model": args.model, "format": args.format, "precision": args.precision, "out": str(out),
                      "files": sorted(p.name for p in out.iterdir())}))
    return 0


def cmd_download(args) -> int:
    """Fetch (or refresh) a checkpoint into the Hub cache and verify it; prints one JSON line."""
    from . import hub
    name = args.model
    local = Path(name).expanduser().exists()
    if hub.is_repo_id(name):  # ORG/REPO is the Hub's, even where a local folder has that path ("./ORG/REPO" is one)
        name = hub.URI_PREFIX + name
    try:
        folder = registry.resolve(name, revision=args.revision, refresh=True)
    except checkpoint.ModelNotFound as e:  # zoo.load and predict read that path here: say why download did not
        if local and name.startswith(hub.URI_PREFIX):
            raise type(e)(f"{e}; download fetches Hub repos: to check the local folder zoo.load and predict "
                          f"read by that name, pass ./{args.model}") from None
        raise
    predictor = registry.load(folder)  # proves it loads, not just that the bytes arrived
    if not name.startswith(hub.URI_PREFIX):  # a bundled name or a folder: there was nothing to fetch
        where = ("is bundled with seqzoo: nothing downloaded; its files were checked against MANIFEST.json and it loads"
                 if registry.is_bundled(folder) else  # no digests recorded there: "checked" would say more than was
                 "is a local folder: nothing downloaded; it loads (a local folder records no digests to check)")
        print(f"note: {args.model} {where}", file=sys.stderr)
    _print(json.dumps({"model": predictor.name, "folder": str(folder),
                      "files": sorted(p.name for p in folder.iterdir() if p.is_file())}))
    return 0


def cmd_publish(args) -> int:
    url = registry.publish(args.checkpoint, args.repo_id, private=args.private or None, message=args.message)
    _print(json.dumps({"checkpoint": args.checkpoint, "repo_id": args.repo_id, "commit": url}))
    return 0


def cmd_manifest(args) -> int:
    """Record the sha256 of every bundled checkpoint file; run after adding or replacing a bundled checkpoint."""
    path = integrity.write_manifest(registry.BUNDLED)
    _print(json.dumps({"manifest": str(path), "checkpoints": sorted(integrity.read_manifest(registry.BUNDLED)["checkpoints"])}))
    return 0


READER_GONE = 141  # the exit status of a process that SIGPIPE ends (128 + 13)


def _quiet_stdout() -> None:
    """Point standard output at /dev/null after its reader went away, so the interpreter's own flush at exit does
    not raise again; a stdout without a file descriptor (a notebook's, a test's capture) is left as it is."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m zoo", description="The seqzoo model zoo.")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")  # "required: COMMAND", not "cmd"
    ls = sub.add_parser("list", help="the bundled models and the seqzoo checkpoints in the Hub cache")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ev = sub.add_parser("evaluate", help="score a model on a dataset split; prints one JSON line")
    ev.add_argument("model", help="bundled name (e.g. ner-bilstm), checkpoint folder or Hub repo ORG/REPO")
    ev.add_argument("--data", required=True, type=path_flag, help="local dataset folder or Hub id")
    # no default: a test score is asked for by name, once (a default of test invited checking it while iterating)
    ev.add_argument("--split", required=True, help="the split to score: validation while choosing, test once at the end")
    ev.add_argument("--revision", default=None, help="branch, tag or commit, for a Hub repo")
    ev.add_argument("--precision", choices=PRECISIONS, default=None,
                    help="zoo/precision.py (default: as the checkpoint is: fp32, or an int8 export's int8)")
    ev.add_argument("--device", default="cpu", help="cpu (default), auto, cuda, cuda:N or mps (zoo/devices.py)")
    ev.add_argument("--threads", type=run_flags.threads, default=0, help="torch CPU threads (0 = torch's default)")
    predict_cli.add_parser(sub)
    ex = sub.add_parser("export", help="write a checkpoint's network as ONNX, in a folder zoo.load runs with onnxruntime")
    ex.add_argument("model", help="bundled name (e.g. ner-bilstm), checkpoint folder or Hub repo")
    ex.add_argument("--format", choices=("onnx",), default="onnx")
    ex.add_argument("--out", required=True, type=path_flag, help="the folder to write (must not exist, or be empty)")
    ex.add_argument("--precision", choices=checkpoint.EXPORT_PRECISIONS, default="fp32",
                    help="int8: quantized by onnxruntime, for this CPU")
    ex.add_argument("--revision", default=None, help="branch, tag or commit, for a Hub repo")
    dl = sub.add_parser("download", help="fetch a checkpoint from the Hub into the cache (asks the Hub for the newest commit)")
    dl.add_argument("model", help="ORG/REPO or hf://ORG/REPO[@REVISION] (from the Hub), or a bundled name or a "
                                  "folder such as ./runs/x (only checked that it loads)")
    dl.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    pub = sub.add_parser("publish", help="create or update a Hub model repo with a checkpoint and its generated card")
    pub.add_argument("checkpoint", help="checkpoint folder, e.g. runs/ner-lstm")
    pub.add_argument("--repo-id", required=True, help="ORG/REPO on the Hub")
    pub.add_argument("--private", action="store_true", help="create the repo as private")
    pub.add_argument("--message", default=None, help="commit message")
    sub.add_parser("manifest", help="write zoo/checkpoints/MANIFEST.json (sha256 of every bundled file)")
    args, extra = p.parse_known_args(argv)
    given = list(sys.argv[1:] if argv is None else argv)
    after_input = given[given.index("--input") + 2:][:len(extra)] if "--input" in given else []
    if extra and args.cmd == "predict" and after_input == extra and all(os.path.exists(x) for x in extra):
        # `--input photos/*.jpg` unquoted: the shell gave --input its first match and the rest as arguments
        p.exit(2, f"error: --input takes one path, and {len(extra)} more followed it ({', '.join(extra[:2])}"
                  f"{', ...' if len(extra) > 2 else ''}): the shell expanded an unquoted glob; quote it (caption "
                  "models: --input 'photos/*.jpg'), or for text files: cat FILES | python -m zoo predict NAME --input -\n")
    if extra:
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    # a warning (bf16 emulated, int8 saturating) as one line of its own, not Python's file path and source line;
    # put back after, as main also runs inside other programs (tests)
    formatwarning, warnings.formatwarning = warnings.formatwarning, lambda message, *_: f"warning: {message}\n"
    try:
        return {"list": cmd_list, "evaluate": cmd_evaluate, "download": cmd_download, "publish": cmd_publish,
                "manifest": cmd_manifest, "predict": cmd_predict, "export": cmd_export}[args.cmd](args)
    except BrokenPipeError:  # the reader went away (`| head`): not an error of ours, and nothing more to say
        return READER_GONE
    except (registry.ModelNotFound, checkpoint.CheckpointError, data.DataUnavailable, ValueError, ImportError,
            OSError) as e:  # ImportError: the onnx extra missing; OSError: an unreadable --input or --output
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = formatwarning


if __name__ == "__main__":
    code = main()
    if code == READER_GONE:
        _quiet_stdout()  # only when run as the command: a caller of main() keeps its stdout
    sys.exit(code)
