"""What python -m zoo predict reads: lines of a file or stdin (text, JSON lines, image paths) and folders or
globs of images, each input an Item with its 1-based place, lazily, so memory stays flat on any input.

A line that cannot be read (too long, not UTF-8, JSON that is not an object with the keys the task reads,
JSON only Python accepts) is an Item with its error in its place; zoo/predict_cli.py writes it as an error
record and goes on.
"""
from __future__ import annotations

import glob
import json
import math
import os
import select
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .sniff import IMAGE_SUFFIXES

MAX_LINE_BYTES = 8_000_000  # a text is at most 200,000 characters (tasks/text.py); JSON escapes can be 6 bytes each
MAX_PENDING = 10_000  # runs of blank lines and unreadable lines held while the format is undecided


@dataclass
class Item:
    line: int                  # 1-based place in the input
    value: object = None       # what predict_batch reads: text, token list or image path
    error: str | None = None   # set when the line itself could not be read
    echo: dict = field(default_factory=dict)  # fields copied into the record: "id", a caption's "image"


LIST_KEYS = ("tokens",)  # JSON keys whose value is a list of words (a tagger's tokens)

def read_lines(f):
    """A binary file's lines, each at most MAX_LINE_BYTES read into memory: a longer line is skipped through
    and given as None (one line without a newline must not take the whole input into memory)."""
    while line := f.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            line = None
        yield line


class PipeLines:
    """The lines of a pipe or a terminal, as read_lines gives them, read with os.read so that whether another
    input has arrived can be told without blocking (ready): predict then answers what has come when the input
    pauses (a person typing, `tail -f`, a co-process), rather than waiting for a whole chunk or the end."""

    def __init__(self, fd: int):
        self.fd, self.buf, self.pos, self.eof = fd, bytearray(), 0, False
        self.scanned = 0  # buf[pos:scanned] holds no newline: an 8 MB line is searched once, not per read

    def ready(self) -> bool:
        """Whether the next input can be read without waiting: the end, a whole line with text (blank lines
        are no inputs in JSON lines, and a text's blank line is answered as well after a pause), or a line
        too long to hold (its error record). Reads what the pipe already has to tell."""
        while True:
            if self.eof or self._has_text_line() or len(self.buf) - self.pos > MAX_LINE_BYTES:
                return True
            if not select.select([self.fd], [], [], 0)[0]:
                return False
            self._fill()  # readable: os.read returns at once

    def head(self, n: int) -> bytes:
        """The first n bytes, read and kept for the lines; fewer where a line or the input ends first (a person
        typing "hi" is not kept waiting for more)."""
        while len(self.buf) - self.pos < n and b"\n" not in self.buf[self.pos:] and not self.eof:
            self._fill()
        return bytes(self.buf[self.pos:self.pos + n])

    def _has_text_line(self) -> bool:
        start = self.pos
        while (end := self.buf.find(b"\n", start)) >= 0:
            if self.buf[start:end].strip():
                return True
            start = end + 1
        return False

    def _fill(self) -> bool:
        data = os.read(self.fd, 1 << 16)
        self.eof = not data
        del self.buf[:self.pos]  # what was given out; only the lines not yet read stay
        self.scanned, self.pos = max(0, self.scanned - self.pos), 0
        self.buf += data
        return bool(data)

    def __iter__(self):
        skipping = False  # inside a line longer than MAX_LINE_BYTES: dropped as it comes, given as None
        while True:
            end = self.buf.find(b"\n", max(self.pos, self.scanned))
            if end < 0:
                self.scanned = len(self.buf)
                if len(self.buf) - self.pos > MAX_LINE_BYTES:
                    skipping, self.pos = True, len(self.buf)
                if self._fill():
                    continue
                if skipping or self.pos < len(self.buf):  # the last line, without a newline
                    yield None if skipping else bytes(self.buf[self.pos:])
                return
            line, self.pos = bytes(self.buf[self.pos:end + 1]), end + 1
            yield None if skipping or len(line) > MAX_LINE_BYTES + 1 else line
            skipping = False


def lines_of(f, check_head=None):
    """-> (the lines of a binary file, a function that says whether the next line is there, or None where
    it always is): a pipe or terminal is read as PipeLines (POSIX), anything else by read_lines. check_head:
    called with the first bytes (up to 12, or the first line's) before any line is given, kept for the lines."""
    if os.name == "posix" and not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        pipe = PipeLines(f.fileno())
        if check_head is not None:
            check_head(pipe.head(12))
        return iter(pipe), pipe.ready
    if check_head is not None:
        check_head(f.peek(12)[:12])
    return read_lines(f), None


def _decode(raw: bytes | None) -> tuple[str, str | None]:
    """-> (text without its line ending, None) or ("", why the line cannot be read)."""
    if raw is None:
        return "", f"a line longer than {MAX_LINE_BYTES:,} bytes"
    try:
        return raw.decode("utf-8-sig").rstrip("\r\n"), None  # -sig: a byte-order mark is no part of the text
    except UnicodeDecodeError as e:
        return "", f"not UTF-8 text ({e.reason} at byte {e.start})"


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    x = float(text)
    if math.isinf(x):
        raise ValueError(f"{text} is too large for a JSON number")
    return x


def _json_object(text: str) -> bool:
    """Whether a line reads as JSON lines' first: how --format auto tells JSON lines from text by the first line
    with text. An object, or a broken one that starts like one ('{"' or '{}', so it becomes that line's error
    record, not a text); "{braces} are fun" is text."""
    start = text.lstrip()
    if not start.startswith("{"):
        return False
    if start[1:].lstrip()[:1] in ('"', "}"):
        return True
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _json_item(n: int, text: str, keys: tuple[str, ...]) -> Item:
    """One JSON line -> an Item reading the first of `keys` it has. Strict JSON: Python's NaN, Infinity and
    numbers that overflow to infinity are refused, so every record written is JSON again."""
    try:
        obj = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as e:  # as json says it ("starting at: ..."); plain text in JSON lines says how to read it
        plain = not text.lstrip().startswith(("{", "[", '"'))
        return Item(n, error=f"not a JSON object ({e.msg}: column {e.colno})"
                             + ("; a plain text line? --format text reads each line as a text" if plain else ""))
    except ValueError as e:
        return Item(n, error=f"not a JSON object ({e})")
    except RecursionError:
        return Item(n, error="not a JSON object (nested too deeply)")
    if not isinstance(obj, dict):
        return Item(n, error=f"expected a JSON object with {' or '.join(repr(k) for k in keys)}, got {type(obj).__name__}")
    echo = {"id": obj["id"]} if "id" in obj else {}
    for k in keys:
        if k in obj:
            if k in LIST_KEYS and not isinstance(obj[k], list):  # a string would be read as a text, not as words
                return Item(n, error=f"{k!r} must be a list of words, got {type(obj[k]).__name__}", echo=echo)
            return Item(n, obj[k], echo=echo)
    return Item(n, error=f"the object has no {' or '.join(repr(k) for k in keys)}", echo=echo)


def line_items(lines, keys: tuple[str, ...], fmt: str = "auto"):
    """Lines (bytes, or None for one too long) -> Items, lazily. A line that cannot be read, or (JSON lines) is
    not an object with one of `keys`, is an Item with its error. auto: JSON lines if the first readable
    non-blank line is a JSON object or starts like one (_json_object), else text. A blank line is an empty text
    in text, and no input at all in JSON lines (no Item: files often end with one; every record names its
    line, so the rest keep their places). Blank lines wait as runs (a first line, a count), so any number of
    them leaves the format to the first non-blank line; only past MAX_PENDING unreadable lines among them is
    it taken as text."""
    pending = []  # [first line, count, error or None for blank] seen before the format is decided

    def flush(fmt):
        for first, count, err in pending:
            if err is None and fmt == "jsonl":
                continue  # blank lines: no inputs in JSON lines
            for m in range(first, first + count):
                yield Item(m, error=err) if err else Item(m, "")
        pending.clear()

    for n, raw in enumerate(lines, 1):
        text, err = _decode(raw)
        if fmt == "auto" and (err or not text.strip()) and len(pending) < MAX_PENDING:
            if err is None and pending and pending[-1][2] is None:
                pending[-1][1] += 1  # one more blank line in the run
            else:
                pending.append([n, 1, err])
            continue
        if fmt == "auto":
            fmt = "jsonl" if _json_object(text) else "text"  # "{braces} are fun" is a text line
        yield from flush(fmt)
        if err:
            yield Item(n, error=err)
        elif fmt == "jsonl":
            if text.strip():
                yield _json_item(n, text, keys)
        else:
            yield Item(n, text)
    yield from flush("text" if fmt == "auto" else fmt)


def is_glob(source: str) -> bool:
    """A pattern, not a path: it has *, ? or [ and names nothing that exists ("photos [1]/a.jpg" is a file)."""
    return any(ch in source for ch in "*?[") and not Path(source).expanduser().exists()


def image_items(source: str) -> tuple[list[Item], list[str]]:
    """A folder (its images by their names, sorted), a glob (the files it matches, sorted) or one image path ->
    (Items with an image path each, what was passed over: a folder's other files and its subfolders, which are not
    searched, and a glob's folders). Hidden files are passed over silently, as a glob passes them (macOS leaves
    "._photo.jpg" beside each photo)."""
    path = Path(source).expanduser()
    if path.is_dir():
        entries = sorted(p for p in path.iterdir() if p.name[0] != ".")
        paths, skipped = [], []
        for p in entries:  # one pass (a membership test per entry was quadratic: 20,000 photos took 3 s)
            if p.is_dir():
                skipped.append(p.name + "/")
            elif p.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(str(p))
            else:
                skipped.append(p.name)
    elif is_glob(source):
        found = sorted(glob.glob(str(path), recursive=True))
        paths, skipped = [p for p in found if not os.path.isdir(p)], [p + "/" for p in found if os.path.isdir(p)]
    else:
        paths, skipped = [str(path)], []
    return [Item(n, p, echo={"image": p}) for n, p in enumerate(paths, 1)], skipped


def path_items(lines, fmt: str = "auto"):
    """Lines of image paths (or JSON lines with "image") -> Items, lazily."""
    for item in line_items(lines, ("image",), fmt):
        if item.error is None and not isinstance(item.value, str):
            item.error = f"an image path must be text, got {type(item.value).__name__}"
        elif item.error is None and not item.value.strip():
            continue  # a blank line is no input, as in JSON lines (a stray one at the end is common)
        if item.error is None:
            item.echo["image"] = item.value = item.value.strip()
        yield item
