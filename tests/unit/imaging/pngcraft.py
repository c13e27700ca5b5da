"""Hand-built PNG and JPEG byte strings for the imaging tests (bad files Pillow would not write)."""

from __future__ import annotations

import struct
import zlib


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def ihdr(width: int, height: int, depth: int = 8, colour: int = 0, interlace: int = 0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace))


def png(*chunks: bytes) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def grey_png(width: int, height: int, raw: bytes | None = None, interlace: int = 0) -> bytes:
    """An 8-bit grayscale PNG whose IDAT inflates to ``raw`` (default: all rows filter 0, value 128)."""
    if raw is None:
        raw = (b"\x00" + b"\x80" * width) * height
    return png(
        ihdr(width, height, interlace=interlace), chunk(b"IDAT", zlib.compress(raw)), chunk(b"IEND", b"")
    )


def adam7_raw(width: int, height: int, value: int = 100) -> bytes:
    """Filtered scanlines of an 8-bit grayscale Adam7-interlaced image (every pass, filter 0)."""
    passes = (
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    )
    out = bytearray()
    for x0, y0, dx, dy in passes:
        w = (width - x0 + dx - 1) // dx
        h = (height - y0 + dy - 1) // dy
        if w == 0 or h == 0:
            continue
        out += (b"\x00" + bytes([value]) * w) * h
    return bytes(out)


def split_png(data: bytes) -> list[tuple[bytes, bytes]]:
    """``[(type, body), ...]`` of a well-formed PNG."""
    out = []
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def join_png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return png(*(chunk(kind, body) for kind, body in chunks))


def patch_jpeg_sof(data: bytes, *, precision: int | None = None, height: int | None = None) -> bytes:
    """A copy of a JPEG with fields of its (first) frame header changed."""
    pos = 2
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            out = bytearray(data)
            if precision is not None:
                out[pos + 4] = precision
            if height is not None:
                out[pos + 5 : pos + 7] = struct.pack(">H", height)
            return bytes(out)
        pos += 2 + length
    raise AssertionError("no frame header found")


def set_jpeg_sof_marker(data: bytes, marker: int) -> bytes:
    """A copy of a JPEG whose frame-header marker byte is replaced (e.g. 0xC3 lossless)."""
    pos = 2
    while pos < len(data):
        kind = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if kind in (0xC0, 0xC1, 0xC2):
            out = bytearray(data)
            out[pos + 1] = marker
            return bytes(out)
        pos += 2 + length
    raise AssertionError("no frame header found")
