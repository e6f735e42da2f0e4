"""python -m zoo predict NAME --input FILE|-|FOLDER|GLOB [--output FILE] [--batch-size N] [--precision P]

    python -m zoo predict ner-bilstm --input sentences.txt --output tags.jsonl
    cat reviews.jsonl | python -m zoo predict sentiment-lstm --input - --batch-size 64
    python -m zoo predict caption-lstm --input 'photos/*.jpg'

Text models read one text per line, or JSON lines with "text" (NER also "tokens", a list of words); the
format is the first non-blank line's ({...}: JSON lines, where blank lines are no inputs), or --format.
Caption models read image paths: a folder (its images, sorted), a glob, a single image, or a file (or -)
of paths, one a line, relative to the current folder. Output: one JSON line per input, in input order,
{"line": N, ...the predictor's answer} (an input's "id" is echoed), or {"line": N, "error": "..."} for an
input that could not be read or predicted; the rest go on. N counts from 1: the line of the input file, or the image's place in a
folder or glob. Exit status: 0, 1 if any input failed, 2 for a usage error or a failed write (one line on stderr).

It streams: inputs are read and predicted a chunk at a time (CHUNK_BATCHES batches), and each chunk's
records are written and flushed before the next chunk is read, so memory stays flat on any input length.
Within a chunk, predict_batch sorts by length, so a larger --batch-size pads little.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from . import devices, run_flags
from .limits import DECODE_SIZES
from .path_flag import path_flag
from .precision import PRECISIONS
from .predict_inputs import Item, image_items, is_glob, line_items, lines_of, path_items
from .registry import inside_bundled
from .sniff import IMAGE_SUFFIXES, is_image, refuse_binary
from .task_table import task_module

CHUNK_BATCHES = 8  # batches per chunk: enough to sort by length, little to hold
# past this a batch buys memory, not speed (batch 100,000 held 6 GB where 64 held 550 MB), as in training
MAX_BATCH = 4096
FORMATS = ("auto", "text", "jsonl")


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="predict a file, stdin, a folder or glob of images; JSON lines out")
    p.add_argument("model", help="bundled name, checkpoint folder (an ONNX export too) or Hub repo")
    p.add_argument("--input", required=True, type=path_flag, help="FILE, - (stdin); captions also FOLDER or GLOB")
    p.add_argument("--output", default=None, type=path_flag, help="FILE, or - for stdout (the default)")
    p.add_argument("--batch-size", type=int, default=64, help=f"inputs per forward pass, 1 to {MAX_BATCH:,} (default 64)")
    p.add_argument("--format", choices=FORMATS, default="auto", help="text inputs: plain lines or JSON lines")
    p.add_argument("--device", default="cpu", help="cpu (default), auto, cuda, cuda:N or mps (zoo/devices.py)")
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="zoo/precision.py (default: as the checkpoint is: fp32, or an int8 export's int8)")
    p.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                   help="tqdm bar on stderr (auto: when stderr is a terminal)")
    p.add_argument("--revision", default=None, help="branch, tag or commit, for a Hub repo")
    p.add_argument("--threads", type=run_flags.threads, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--scores", action="store_true",
                   help="NER: each word's tag probabilities and each entity's score (predict(..., scores=True)); "
                        "sentiment and captions carry theirs already")
    for flag, key in (("--beam", "beam"), ("--max-len", "max_len")):
        p.add_argument(flag, type=int, default=None,
                       help=f"captions: {key.replace('_', ' ')} to decode with, {'%d to %d' % DECODE_SIZES[key]} "
                            "(default: the checkpoint's)")


def _options(predictor, args) -> dict:
    """The keyword arguments predict_batch gets from the flags: a caption's decoding, a tagger's --scores."""
    decoding = {k: v for k, v in (("beam", args.beam), ("max_len", args.max_len)) if v is not None}
    if predictor.task == "caption":
        for key, value in decoding.items():  # one line, as --batch-size's
            lo, hi = DECODE_SIZES[key]
            if not lo <= value <= hi:
                raise ValueError(f"--{key.replace('_', '-')} must be from {lo} to {hi}, got {value}")
        return decoding
    if decoding:
        raise ValueError(f"--beam and --max-len apply to caption models; {args.model} is a {predictor.task} model")
    return {"scores": True} if args.scores else {}


def _records(predictor, chunk: list[Item], batch_size: int, options: dict) -> list[dict]:
    """One chunk -> its records, in order. predict_batch records each input's own error; anything it
    raises beyond that (an unreadable file, say) sends the chunk through one input at a time instead.
    options: predict_batch's other keyword arguments (_options)."""
    todo = [it for it in chunk if it.error is None]
    try:
        answers = predictor.predict_batch([it.value for it in todo], batch_size=batch_size, errors="record", **options)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception:
        answers = []
        for it in todo:
            try:
                answers += predictor.predict_batch([it.value], batch_size=1, errors="record", **options)
            except Exception as e:  # noqa: BLE001  (one input's failure, whatever it is, is that input's record)
                answers.append({"error": f"{type(e).__name__}: {e}"})
    by_line = {it.line: a for it, a in zip(todo, answers)}
    out = []
    for it in chunk:
        a = by_line.get(it.line, {"error": it.error})
        if isinstance(a, list):  # captions: a list of {"caption", "score"}
            a = {"captions": a}
        out.append({"line": it.line, **it.echo, **a})
    return out


def predict_stream(predictor, items, batch_size: int = 64, ready=None, after_chunk=None, options: dict | None = None):
    """Items -> records, lazily, CHUNK_BATCHES batches at a time (never the whole input at once). ready: where
    inputs come from a pipe, whether the next is already there (PipeLines.ready); when it is not, the inputs
    read so far are answered at once, not held until a chunk is full. after_chunk() runs once a chunk's
    records are taken, before more input is read (the command flushes its output there)."""
    chunk, size, options = [], max(1, batch_size) * CHUNK_BATCHES, options or {}
    for item in items:
        chunk.append(item)
        if len(chunk) >= size or (ready is not None and not ready()):
            yield from _records(predictor, chunk, batch_size, options)
            chunk = []
            if after_chunk is not None:
                after_chunk()
    if chunk:
        yield from _records(predictor, chunk, batch_size, options)


def _count_lines(path: Path) -> int:
    """Lines in a file, read 1 MB at a time (for the progress bar's total; memory stays flat)."""
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def _inputs(predictor, args):
    """-> (items, their number if known beforehand, the open file to close or None, whether the next input is
    there: a function for a pipe, else None)."""
    keys = task_module(predictor.task).PREDICT_KEYS  # the task's own: zoo names no task
    caption = keys is None

    def from_lines(f, path: Path | None):
        where = f"--input {args.input}" if path else "standard input"
        lines, ready = lines_of(f, check_head=lambda head: refuse_binary(head, where, caption, path and str(path)))
        # counted once its first bytes are read as text (a 2 GB .gz is refused, not read through first); a pipe
        # (<(...)) is read once, not counted
        total = _count_lines(path) if path is not None and path.is_file() else None
        return (path_items(lines, args.format) if caption else line_items(lines, keys, args.format)), total, f, ready

    if args.input == "-":
        return from_lines(open(sys.stdin.fileno(), "rb", closefd=False), None)
    path = Path(args.input).expanduser()
    if caption and not is_glob(args.input) and not path.exists():  # a missing photo too: a usage error, exit 2
        raise ValueError(f"--input {args.input}: no such file, folder or glob")
    # an image by its name, or by its first bytes (IMG_0001, photo.jfif): one image, not a list of paths
    if caption and (path.is_dir() or is_glob(args.input) or is_image(str(path))):
        items, skipped = image_items(args.input)  # names only, so the listing is small and gives the bar its total
        folders = [p for p in skipped if p.endswith("/")]
        if not items:
            raise ValueError(f"--input {args.input}: no images there ({', '.join(IMAGE_SUFFIXES)})"
                             + ("; subfolders are not searched: --input 'FOLDER/**/*.jpg' is" if folders else ""))
        if skipped:  # said, as a glob's non-image would be its error record: nothing passed over without a word
            shown = ", ".join(skipped[:5]) + (", …" if len(skipped) > 5 else "")
            print(f"note: {len(skipped)} passed over, not images by their names or folders (not searched): {shown}",
                  file=sys.stderr)
        return items, len(items), None, None
    if path.is_dir():  # a caption model's folders are read above
        raise ValueError(f"--input {args.input} is a folder; text models read a file or - (standard input)")
    if not path.exists():
        raise ValueError(f"--input {args.input}: no such file" + (", folder or glob" if caption else
                                                                    " (text models read a file or -)"))
    f = open(path, "rb")
    try:
        return from_lines(f, path)
    except BaseException:  # refused (an image where lines are read): closed here, the caller never gets it
        f.close()
        raise


def _check_output(args) -> None:
    """--output must not be the input: opening it for writing would empty the input before it is read. Nor an
    image: a caption run's folder, glob or list of paths may hold it, and JSON lines would replace the photo."""
    if args.output and is_image(args.output):
        raise ValueError(f"--output {args.output} is an image; predict writes JSON lines there, which would "
                         "replace it: name another file (e.g. captions.jsonl)")
    if not args.output or not os.path.exists(args.output):
        return
    out = os.stat(args.output)
    if args.input == "-":
        src = [os.fstat(sys.stdin.fileno())]
    else:
        path = Path(args.input).expanduser()
        src = [os.stat(path)] if path.is_file() else []
    if any((s.st_dev, s.st_ino) == (out.st_dev, out.st_ino) for s in src):
        raise ValueError(f"--output {args.output} is the input file; writing it would empty the input first")


def _check_not_in_checkpoint(output: str | None, folder) -> None:
    """--output inside the model's own folder would replace one of its files (model.safetensors with JSON
    lines, the model gone) or leave a stray file a later load reads past: refused, whatever its name."""
    if not output:
        return
    if inside_bundled(output):  # any bundled model's folder: a stray file fails its manifest check, and it stops loading
        raise ValueError(f"--output {output} is inside the bundled models' folder, which holds the bundled "
                         "checkpoints and their MANIFEST.json alone (a file in a model's folder stops it loading): "
                         "name a file elsewhere")
    if folder is None:
        return
    home = Path(folder).resolve()
    # under the folder by path, or one of its files by another name (a link to it; a Hub snapshot's blobs)
    if home in Path(output).resolve().parents or (os.path.exists(output) and any(
            f.is_file() and os.path.samefile(f, output) for f in home.iterdir())):
        raise ValueError(f"--output {output} is inside the model's folder {folder}, whose files are the model (JSON "
                         "lines over one of them leave a model that does not load): name a file elsewhere")


def run(args, load) -> int:
    """The predict command; load(name, revision=..., precision=...) -> predictor (zoo.registry.load)."""
    if not 1 <= args.batch_size <= MAX_BATCH:
        raise ValueError(f"--batch-size must be from 1 to {MAX_BATCH:,}, got {args.batch_size:,}")
    if args.output == "-":  # as for --input: standard output
        args.output = None
    _check_output(args)
    devices.resolve(args.device)  # here, for the message to say --device (zoo.load's says device=)
    devices.use_threads(args.threads)
    predictor = load(args.model, revision=args.revision, precision=args.precision, device=args.device)
    _check_not_in_checkpoint(args.output, getattr(predictor, "folder", None))
    options = _options(predictor, args)
    items, total, f, ready = _inputs(predictor, args)
    try:
        return _write(predictor, items, args, total, ready, options)
    finally:
        if f is not None:
            f.close()


def json_line(rec: dict) -> tuple[bytes, bool]:
    """A record -> (one line of UTF-8 JSON, whether it is an error record). A string from the input that UTF-8
    cannot hold (a lone surrogate from a "\\ud800" escape, echoed as an "id" or inside an entity's text) is
    written as a JSON escape, and an answer holding NaN or an infinity becomes an error record, so no line
    stops the run or is invalid JSON."""
    try:
        text = json.dumps(rec, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json_line({"line": rec.get("line"), "error": "the answer holds NaN or an infinity, which JSON cannot"})
    try:
        line = (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        line = (json.dumps(rec, allow_nan=False) + "\n").encode("ascii")
    return line, "error" in rec


class _TextOut:
    def __init__(self, stream):
        self.stream = stream

    def write(self, line: bytes):
        self.stream.write(line.decode("utf-8"))

    def flush(self):
        self.stream.flush()


def _write(predictor, items, args, total, ready=None, options: dict | None = None) -> int:
    from tqdm import tqdm

    sys.stdout.flush()
    # bytes, UTF-8 whatever the locale says (a stdout without a byte layer gets the same text)
    try:
        out = open(args.output, "wb") if args.output else getattr(sys.stdout, "buffer", None) or _TextOut(sys.stdout)
    except OSError as e:  # a folder, a missing parent folder, no permission: name the flag, not just errno
        raise ValueError(f"--output {args.output}: cannot write there ({e.strerror or type(e).__name__})") from None
    where = f"--output {args.output}" if args.output else "standard output"

    def emit(data: bytes | None = None, close: bool = False):  # out.write(data), out.flush(), or out.close()
        try:
            out.close() if close else out.write(data) if data is not None else out.flush()
        except BrokenPipeError:  # the reader went away (`| head`): zoo.__main__ ends quietly
            raise
        except OSError as e:  # a full disk, a closed stream: say where, once
            raise ValueError(f"{where}: cannot write ({e.strerror or type(e).__name__})") from None

    failed = done = 0
    bar = tqdm(total=total, unit=" inputs", file=sys.stderr, dynamic_ncols=True,
               disable={"auto": None, "on": False, "off": True}[args.progress])  # None: off unless a terminal
    try:
        for rec in predict_stream(predictor, items, args.batch_size, ready, after_chunk=emit, options=options):
            data, bad = json_line(rec)
            emit(data)
            failed += bad
            done += 1
            # the bar counts input lines, blank ones JSON lines skips included, so it ends at the file's total
            n = rec.get("line")
            bar.update(n - bar.n if isinstance(n, int) and n > bar.n else 1)
        if total is not None and total > bar.n:
            bar.update(total - bar.n)  # trailing lines that were no inputs
        emit()
        if args.output:
            emit(close=True)  # a write the file system only reports on closing (a quota, NFS) is an error too
    finally:  # also on Ctrl-C: the records written so far are out, each whole
        bar.close()
        try:
            out.close() if args.output else out.flush()
        except OSError:  # an error is already on its way out
            pass
    print(f"{done} input(s), {failed} failed", file=sys.stderr)
    return 1 if failed else 0
