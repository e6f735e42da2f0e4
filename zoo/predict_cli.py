"""python -m zoo predict NAME --input FILE|-|FOLDER|GLOB [--output FILE] [--batch-size N] [--precision P]

    python -m zoo predict ner-bilstm --input sentences.txt --output tags.jsonl
    cat reviews.jsonl | python -m zoo predict sentiment-lstm --input - --batch-size 64
    python -m zoo predict caption-lstm --input 'photos/*.jpg'

Text models read one text per line, or JSON lines with "text" (NER also "tokens", a list of words); the
format is the first non-blank line's ({...}: JSON lines), or --format. Caption models read image paths:
a folder (its images, sorted), a glob, a single image, or a file (or -) of paths, one a line, relative to
the current folder. Output: one JSON line per input, in input order, {"line": N, ...the predictor's
answer} (an input's "id" is echoed), or {"line": N, "error": "..."} for an input that could not be read
or predicted; the rest go on. N counts from 1: the line of the input file, or the image's place in a
folder or glob. Exit status: 0, 1 if any input failed, 2 for a usage error (one line on stderr).

It streams: inputs are read and predicted a chunk at a time (CHUNK_BATCHES batches), and each chunk's
records are written and flushed before the next chunk is read, so memory stays flat on any input length.
Within a chunk, predict_batch sorts by length, so a larger --batch-size pads little.
"""
from __future__ import annotations

import glob
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .precision import PRECISIONS

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
CHUNK_BATCHES = 8  # batches per chunk: enough to sort by length, little to hold
FORMATS = ("auto", "text", "jsonl")
MAX_LINE_BYTES = 8_000_000  # a text is at most 200,000 characters (tasks/text.py); JSON escapes can be 6 bytes each
MAX_PENDING = 10_000  # blank or unreadable lines held while the format is undecided


@dataclass
class Item:
    line: int                  # 1-based place in the input
    value: object = None       # what predict_batch reads: text, token list or image path
    error: str | None = None   # set when the line itself could not be read
    echo: dict = field(default_factory=dict)  # fields copied into the record: "id", a caption's "image"


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="predict a file, stdin, a folder or glob of images; JSON lines out")
    p.add_argument("model", help="bundled name, checkpoint folder (an ONNX export too) or Hub repo")
    p.add_argument("--input", required=True, help="FILE, - (stdin); captions also FOLDER or GLOB")
    p.add_argument("--output", default=None, help="FILE (default: stdout)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--format", choices=FORMATS, default="auto", help="text inputs: plain lines or JSON lines")
    p.add_argument("--device", default="cpu", help="cpu (default), auto, cuda, cuda:N or mps (zoo/devices.py)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32", help="zoo/precision.py")
    p.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                   help="tqdm bar on stderr (auto: when stderr is a terminal)")
    p.add_argument("--revision", default=None, help="branch, tag or commit, for a Hub repo")


def read_lines(f):
    """A binary file's lines, each at most MAX_LINE_BYTES read into memory: a longer line is skipped through
    and given as None (one line without a newline must not take the whole input into memory)."""
    while line := f.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            line = None
        yield line


def _decode(raw: bytes | None) -> tuple[str, str | None]:
    """-> (text without its line ending, None) or ("", why the line cannot be read)."""
    if raw is None:
        return "", f"a line longer than {MAX_LINE_BYTES:,} bytes"
    try:
        return raw.decode("utf-8-sig").rstrip("\r\n"), None  # -sig: a byte-order mark is no part of the text
    except UnicodeDecodeError as e:
        return "", f"not UTF-8 text ({e.reason} at byte {e.start})"


def _json_item(n: int, text: str, keys: tuple[str, ...]) -> Item:
    """One JSON line -> an Item reading the first of `keys` it has."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return Item(n, error=f"not a JSON object ({e.msg} at column {e.colno})")
    except RecursionError:
        return Item(n, error="not a JSON object (nested too deeply)")
    if not isinstance(obj, dict):
        return Item(n, error=f"expected a JSON object with {' or '.join(repr(k) for k in keys)}, got {type(obj).__name__}")
    echo = {"id": obj["id"]} if "id" in obj else {}
    for k in keys:
        if k in obj:
            return Item(n, obj[k], echo=echo)
    return Item(n, error=f"the object has no {' or '.join(repr(k) for k in keys)}", echo=echo)


def line_items(lines, keys: tuple[str, ...], fmt: str = "auto"):
    """Lines (bytes, or None for one too long) -> Items, lazily. A line that cannot be read, or (JSON lines) is
    not an object with one of `keys`, is an Item with its error. auto: JSON lines if the first readable
    non-blank line starts with "{", else text; a blank line is then an error (JSON) or an empty text."""
    pending = []  # (line, error or None for blank) seen before the format is decided, at most MAX_PENDING

    def flush(fmt):
        for m, err in pending:
            yield Item(m, error=err or "a blank line, not a JSON object") if err or fmt == "jsonl" else Item(m, "")
        pending.clear()

    for n, raw in enumerate(lines, 1):
        text, err = _decode(raw)
        if fmt == "auto" and (err or not text.strip()) and len(pending) < MAX_PENDING:
            pending.append((n, err))
            continue
        if fmt == "auto":
            fmt = "jsonl" if text.lstrip().startswith("{") else "text"
        yield from flush(fmt)
        if err:
            yield Item(n, error=err)
        elif fmt == "jsonl":
            yield Item(n, error="a blank line, not a JSON object") if not text.strip() else _json_item(n, text, keys)
        else:
            yield Item(n, text)
    yield from flush("text" if fmt == "auto" else fmt)


def _is_glob(source: str) -> bool:
    return any(ch in source for ch in "*?[")


def image_items(source: str):
    """A folder (its images, sorted), a glob (sorted) or one image path -> Items with an image path each."""
    path = Path(source).expanduser()
    if path.is_dir():
        paths = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    elif _is_glob(source):
        paths = sorted(glob.glob(str(path), recursive=True))
    else:
        paths = [str(path)]
    return [Item(n, p, echo={"image": p}) for n, p in enumerate(paths, 1)]


def path_items(lines, fmt: str = "auto"):
    """Lines of image paths (or JSON lines with "image") -> Items, lazily."""
    for item in line_items(lines, ("image",), fmt):
        if item.error is None and not isinstance(item.value, str):
            item.error = f"an image path must be text, got {type(item.value).__name__}"
        elif item.error is None and not item.value.strip():
            item.error = "a blank line, not an image path"
        if item.error is None:
            item.echo["image"] = item.value = item.value.strip()
        yield item


def _records(predictor, chunk: list[Item], batch_size: int) -> list[dict]:
    """One chunk -> its records, in order. predict_batch records each input's own error; anything it
    raises beyond that (an unreadable file, say) sends the chunk through one input at a time instead."""
    todo = [it for it in chunk if it.error is None]
    try:
        answers = predictor.predict_batch([it.value for it in todo], batch_size=batch_size, errors="record")
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception:
        answers = []
        for it in todo:
            try:
                answers += predictor.predict_batch([it.value], batch_size=1, errors="record")
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


def predict_stream(predictor, items, batch_size: int = 64):
    """Items -> records, lazily, CHUNK_BATCHES batches at a time (never the whole input at once)."""
    items = iter(items)
    while chunk := list(itertools.islice(items, max(1, batch_size) * CHUNK_BATCHES)):
        yield from _records(predictor, chunk, batch_size)


def _count_lines(path: Path) -> int:
    """Lines in a file, read 1 MB at a time (for the progress bar's total; memory stays flat)."""
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def _inputs(predictor, args):
    """-> (items, their number if known beforehand, the open file to close or None)."""
    caption = predictor.task == "caption"
    keys = ("tokens", "text") if predictor.task == "ner" else ("text",)
    if args.input == "-":
        f = open(sys.stdin.fileno(), "rb", closefd=False)
        lines = read_lines(f)
        return (path_items(lines, args.format) if caption else line_items(lines, keys, args.format)), None, f
    path = Path(args.input).expanduser()
    if caption and (path.is_dir() or _is_glob(args.input) or path.suffix.lower() in IMAGE_SUFFIXES):
        items = image_items(args.input)  # names only, so the listing is small and gives the bar its total
        if not items:
            raise ValueError(f"--input {args.input}: no images there ({', '.join(IMAGE_SUFFIXES)})")
        return items, len(items), None
    if not path.is_file():
        raise ValueError(f"--input {args.input}: no such file" + (", folder or glob" if caption else
                                                                    " (text models read a file or -)"))
    f = open(path, "rb")
    lines = read_lines(f)
    return (path_items(lines, args.format) if caption else line_items(lines, keys, args.format)), _count_lines(path), f


def run(args, load) -> int:
    """The predict command; load(name, revision=..., precision=...) -> predictor (zoo.registry.load)."""
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    predictor = load(args.model, revision=args.revision, precision=args.precision, device=args.device)
    items, total, f = _inputs(predictor, args)
    try:
        return _write(predictor, items, args, total)
    finally:
        if f is not None:
            f.close()


def _write(predictor, items, args, total) -> int:
    from tqdm import tqdm

    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    failed = done = 0
    bar = tqdm(total=total, unit=" inputs", file=sys.stderr, dynamic_ncols=True,
               disable={"auto": None, "on": False, "off": True}[args.progress])  # None: off unless a terminal
    try:
        for rec in predict_stream(predictor, items, args.batch_size):
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            failed += "error" in rec
            done += 1
            bar.update(1)
            if done % (args.batch_size * CHUNK_BATCHES) == 0:
                out.flush()  # a chunk's records are out before the next chunk is read
    finally:
        bar.close()
        out.flush()
        if args.output:
            out.close()
    print(f"{done} input(s), {failed} failed", file=sys.stderr)
    return 1 if failed else 0
