"""Real PNG files of any size built row by row, so a test can make a 400-megapixel decompression bomb (a few
tens of kilobytes) without holding its pixels in memory the way PIL's Image.new would."""
from __future__ import annotations

import struct
import zlib

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel (gray, RGB, palette, gray+alpha, RGBA)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, bit_depth: int = 8, color_type: int = 0, fill: int = 0) -> bytes:
    """A valid width x height PNG whose every byte of pixel data is `fill` (0: black)."""
    row = b"\0" + bytes([fill]) * ((width * CHANNELS[color_type] * bit_depth + 7) // 8)  # filter 0, then samples
    pack = zlib.compressobj(9)
    data = b"".join(pack.compress(row) for _ in range(height)) + pack.flush()
    extra = _chunk(b"PLTE", bytes(3 * 256)) if color_type == 3 else b""
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
            + extra + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
