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
    "UTF-16 text": (rb"\xff\xfe|\xfe\xff", "iconv -f UTF-16 -t UTF-8"),
    # without a byte-order mark: English in UTF-16 has a NUL beside every letter (ASCII ones: "\x00\xac" is 가)
    "UTF-16LE text (no byte-order mark)": (rb"([\t\n\r -~]\x00){2,}", "iconv -f UTF-16LE -t UTF-8"),
    "UTF-16BE text (no byte-order mark)": (rb"(\x00[\t\n\r -~]){2,}", "iconv -f UTF-16BE -t UTF-8")}
HOW = {"a Parquet file": "write its text column as lines or JSON lines first (python -m zoo evaluate --data reads "
                         "Parquet datasets with their labels)"}  # formats no command turns into lines


def binary_kind(head: bytes) -> str | None:
    """What an input that is not lines of UTF-8 is, by its first bytes: a known format, "binary, not text" where
    its first line shows two NUL bytes (UTF-16 without its mark; one NUL in a text is that text's, and read), or
    None for text."""
    kind = next((k for k, (pattern, _) in BINARY_FORMATS.items() if re.match(pattern, head)), None)
    return kind or ("binary, not text" if head.split(b"\n", 1)[0].count(b"\x00") >= 2 else None)


def refuse_binary(head: bytes, where: str, caption: bool, path: str | None) -> None:
    """An image, a compressed or columnar file or other bytes given where lines are read (`cat photo.png |`, a
    .gz) is one line naming it and how to read it (ValueError), not an error record per "line" of its bytes.
    where: "--input PATH" or "standard input"; path: the file, None for standard input."""
    if starts_as_image(head):
        raise ValueError(f"{where} is an image; " + ("caption models read image paths there, one a line: pass "
                         "the image itself as --input PATH" if caption else "text models read text, one per line"))
    if kind := binary_kind(head):
        tool = BINARY_FORMATS.get(kind, (b"", None))[1]
        how = f"--input <({tool} {shlex.quote(path)})" if path else f"{tool} FILE | python -m zoo predict ... --input -"
        raise ValueError(f"{where} is {kind}; predict reads lines of UTF-8 text"
                         + (f" (convert it: {how})" if tool else f" ({HOW[kind]})" if kind in HOW else ""))


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
