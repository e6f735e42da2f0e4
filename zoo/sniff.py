"""What an input's first bytes say it is, where python -m zoo predict reads lines: an image (a caption model's
input given where its list of paths is read, or a text model's), a compressed, columnar or UTF-16 file, or
text. Each is refused in one line that names it and how to read it, not an error record per "line" of its bytes.
"""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def starts_as_image(head: bytes) -> bool:
    """The first 12 bytes of a JPEG, PNG, GIF, TIFF, WebP or BMP (whose reserved bytes 6-9 are 0)."""
    return (head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*"))
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP") or (head[:2] == b"BM" and head[6:10] == bytes(4)))


# what a file of lines is often mistaken for: the pattern its first bytes match (strict enough that no line of
# text does: "PAR1 activation ..." and "BZh ..." are text), and the command that gives its lines (None: none does)
BINARY_FORMATS = {
    "gzip-compressed": (rb"\x1f\x8b", "zcat"), "bzip2-compressed": (rb"BZh[1-9](1AY&SY|\x17rE8P\x90)", "bzcat"),
    "xz-compressed": (rb"\xfd7zXZ\x00", "xzcat"), "zstd-compressed": (rb"\x28\xb5\x2f\xfd", "zstdcat"),
    "a zip archive (or an Office file)": (rb"PK\x03\x04", None), "a Parquet file": (rb"PAR1[\x00-\x08\x0b\x0c\x0e-\x1f]", None),
    "a PDF": (rb"%PDF-\d\.\d[\r\n]", None),
    "UTF-32 text": (rb"\xff\xfe\x00\x00|\x00\x00\xfe\xff", "iconv -f UTF-32 -t UTF-8"),
    "UTF-16 text": (rb"\xff\xfe|\xfe\xff", "iconv -f UTF-16 -t UTF-8")}
# UTF-16 without its mark, told by where the NULs of its first bytes sit (Latin letters have one each)
NO_MARK = {1: ("UTF-16LE text (no byte-order mark)", "iconv -f UTF-16LE -t UTF-8"),
           0: ("UTF-16BE text (no byte-order mark)", "iconv -f UTF-16BE -t UTF-8")}
HOW = {"a Parquet file": "write its text column as JSON lines first, e.g. pandas.read_parquet(FILE)[['text']]"
                         ".to_json('texts.jsonl', orient='records', lines=True)"}  # formats no command turns into lines


def binary_kind(head: bytes) -> tuple[str, str | None] | None:
    """What an input that is not lines of UTF-8 is, by its first bytes (up to 12): (a known format, the command
    that converts it or None), or None for text. Two NULs or more: UTF-16 without its mark where they all sit at
    odd (little-endian) or even (big-endian) places, else "binary, not text"; one NUL in a text is that text's."""
    kind = next(((k, tool) for k, (pattern, tool) in BINARY_FORMATS.items() if re.match(pattern, head)), None)
    if kind is None and head.split(b"\n", 1)[0].count(b"\x00") >= 2:
        places = {i % 2 for i, b in enumerate(head) if b == 0}
        kind = NO_MARK[places.pop()] if len(places) == 1 else ("binary, not text", None)
    return kind


def refuse_binary(head: bytes, where: str, caption: bool, path: str | None) -> None:
    """An image, a compressed or columnar file or other bytes given where lines are read (`cat photo.png |`, a
    .gz) is one line naming it and how to read it (ValueError), not an error record per "line" of its bytes.
    where: "--input PATH" or "standard input"; path: the file, None for standard input."""
    if starts_as_image(head):
        raise ValueError(f"{where} is an image; " + ("caption models read image paths there, one a line: pass "
                         "the image itself as --input PATH" if caption else "text models read text, one per line"))
    if found := binary_kind(head):
        kind, tool = found
        # a regular file by its path; a pipe's (<(cat x.gz), /dev/fd/63) is used up, so the form for any file
        how = (f"--input <({tool} {shlex.quote(path)})" if path and os.path.isfile(path)
               else f"{tool} FILE | python -m zoo predict ... --input -")
        raise ValueError(f"{where} is {kind}; predict reads lines of UTF-8 text"
                         + (f" (convert it: {how})" if tool else f": {HOW[kind]}" if kind in HOW else ""))


def is_image(path: str) -> bool:
    """An image's name, or an existing regular file that starts as an image does (whatever its name). Only
    a regular file is opened: reading /dev/stdout or a FIFO would wait for input that never comes."""
    if Path(path).suffix.lower() in IMAGE_SUFFIXES:
        return True
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            return starts_as_image(f.read(12))
    except OSError:  # unreadable: then it is no photo this run could read either
        return False
