"""Checking untrusted image bytes cheaply, and decoding them safely when pixels are needed.

``inspect_image`` never decodes pixels. It tells PNG from JPEG by the leading bytes (never by the
file name), reads width and height from the headers, applies the service's limits (64 to 4096
pixels per side, at most 8 MiB) and checks that the file is structurally complete:

- PNG: every chunk is walked to ``IEND`` with its CRC checked, and the image data is inflated in
  small pieces (output discarded) to prove the compressed stream is complete and holds exactly the
  bytes the header promises. Memory stays bounded whatever the file claims.
- JPEG: the marker segments are walked from ``SOI`` through every scan to ``EOI``; a file that
  stops inside a scan, or never reaches ``EOI``, is refused. Bytes after ``EOI`` are tolerated
  (cameras append thumbnails there).

Accepted colour layouts: grayscale, grayscale+alpha, RGB, RGBA and palette PNGs (8 or 16 bits);
baseline, extended and progressive Huffman JPEGs with 1 (grayscale) or 3 (YCbCr/RGB) components
of 8-bit precision. CMYK/YCCK JPEGs, 12-bit, lossless, hierarchical and arithmetic-coded JPEGs are
refused with a reason, since the training side could not read them reliably.

``decode_rgb`` runs the same checks first and then decodes with Pillow (truncated-image loading
off, decompression-bomb warnings raised as errors) to an ``H x W x 3`` uint8 array.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageFile

MIN_SIDE = 64
MAX_SIDE = 4096
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_PIXELS = MAX_SIDE * MAX_SIDE

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"

ImageFormat = Literal["png", "jpeg"]

# Pillow guards only its own decoders; keep its bomb limit no looser than ours and make its
# warning an error, process-wide (a filter installed once is safe across threads, unlike
# ``warnings.catch_warnings``).
if Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS > MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


class ImageRejected(Exception):
    """The bytes are not an image the service accepts; ``reason`` says why in plain words."""

    def __init__(self, reason: str, *, name: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.name = name

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class ImageInfo:
    """What ``inspect_image`` learned: format by content, size in pixels, and the bytes' identity."""

    format: ImageFormat
    width: int
    height: int
    sha256: str
    size: int
    # Colour layout in Pillow's words: "L", "LA", "RGB", "RGBA" or "P".
    mode: str = ""


def sniff_format(data: bytes) -> str:
    """A short name for what the leading bytes look like ("png", "jpeg", "gif", ..., "unknown")."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(JPEG_SOI):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "heif"
    return "unknown"


def inspect_image(data: bytes, *, name: str) -> ImageInfo:
    """Check an uploaded or referenced image without decoding its pixels.

    Raises ``ImageRejected`` with a precise reason for anything the service does not accept.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ImageRejected("image data must be bytes", name=name)
    data = bytes(data)
    size = len(data)
    if size == 0:
        raise ImageRejected("the file is empty", name=name)
    if size > MAX_IMAGE_BYTES:
        raise ImageRejected(
            f"the file is {size} bytes, more than the limit of {MAX_IMAGE_BYTES} bytes (8 MiB)", name=name
        )
    kind = sniff_format(data)
    if kind == "png":
        width, height, mode = _check_png(data, name)
        fmt: ImageFormat = "png"
    elif kind == "jpeg":
        width, height, mode = _check_jpeg(data, name)
        fmt = "jpeg"
    elif kind == "unknown":
        raise ImageRejected("the content is neither PNG nor JPEG", name=name)
    else:
        raise ImageRejected(f"the content is {kind.upper()}, only PNG and JPEG are accepted", name=name)
    check_dimensions(width, height, name=name)
    return ImageInfo(
        format=fmt,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        size=size,
        mode=mode,
    )


def check_dimensions(width: int, height: int, *, name: str | None = None) -> None:
    """Refuse sizes outside 64..4096 pixels per side."""
    for label, value in (("width", width), ("height", height)):
        if value < MIN_SIDE:
            raise ImageRejected(f"{label} {value} px is below the minimum of {MIN_SIDE} px", name=name)
        if value > MAX_SIDE:
            raise ImageRejected(f"{label} {value} px is above the maximum of {MAX_SIDE} px", name=name)


# --------------------------------------------------------------------------------------------- PNG

_PNG_MODES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_INFLATE_PIECE = 1 << 16


def read_png_header(data: bytes, name: str | None = None) -> tuple[int, int, int, int, int]:
    """``(width, height, bit_depth, colour_type, interlace)`` from the IHDR chunk, checked."""
    if len(data) < 33:
        raise ImageRejected("the PNG file is truncated inside its header", name=name)
    length, ctype = struct.unpack(">I4s", data[8:16])
    if ctype != b"IHDR" or length != 13:
        raise ImageRejected("the PNG file does not start with a valid IHDR chunk", name=name)
    if zlib.crc32(data[12:29]) != struct.unpack(">I", data[29:33])[0]:
        raise ImageRejected("the PNG header chunk is corrupt (CRC mismatch)", name=name)
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if colour not in _PNG_MODES:
        raise ImageRejected(f"the PNG colour type {colour} is not valid", name=name)
    if depth not in _PNG_DEPTHS[colour]:
        raise ImageRejected(f"the PNG bit depth {depth} is not valid for colour type {colour}", name=name)
    if compression != 0 or filtering != 0 or interlace not in (0, 1):
        raise ImageRejected(
            "the PNG header names an unknown compression, filter or interlace method", name=name
        )
    if width == 0 or height == 0:
        raise ImageRejected("the PNG header declares a zero width or height", name=name)
    return width, height, depth, colour, interlace


def _png_raw_size(width: int, height: int, depth: int, colour: int, interlace: int) -> int:
    """Bytes of filtered scanlines the IDAT stream must inflate to."""
    bits_per_pixel = depth * _PNG_CHANNELS[colour]

    def rows(w: int, h: int) -> int:
        if w == 0 or h == 0:
            return 0
        return h * (1 + (w * bits_per_pixel + 7) // 8)

    if interlace == 0:
        return rows(width, height)
    total = 0
    # Adam7 passes: (x start, y start, x step, y step).
    for x0, y0, dx, dy in (
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ):
        total += rows((width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy)
    return total


def _check_png(data: bytes, name: str) -> tuple[int, int, str]:
    width, height, depth, colour, interlace = read_png_header(data, name)
    # Refuse oversized declarations before touching the pixel data (decompression bombs).
    check_dimensions(width, height, name=name)
    expected = _png_raw_size(width, height, depth, colour, interlace)
    # Each scanline starts with a filter-type byte (0..4); checked for non-interlaced images.
    stride = 0 if interlace else 1 + (width * depth * _PNG_CHANNELS[colour] + 7) // 8
    inflater = zlib.decompressobj()
    inflated = 0
    pos = 33
    seen_idat = False
    idat_done = False
    seen_plte = False
    end = len(data)
    while True:
        if pos + 12 > end:
            raise ImageRejected("the PNG file is truncated (no IEND chunk)", name=name)
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        if length > end - pos - 12:
            raise ImageRejected(f"the PNG file is truncated inside its {_chunk_name(ctype)} chunk", name=name)
        if not ctype.isalpha():
            raise ImageRejected(f"the PNG file is corrupt (invalid chunk type {ctype!r})", name=name)
        body_end = pos + 8 + length
        if zlib.crc32(data[pos + 4 : body_end]) != struct.unpack(">I", data[body_end : body_end + 4])[0]:
            raise ImageRejected(f"the PNG {_chunk_name(ctype)} chunk is corrupt (CRC mismatch)", name=name)
        if ctype == b"IDAT":
            if idat_done:
                raise ImageRejected("the PNG image data chunks are not consecutive", name=name)
            seen_idat = True
            inflated = _inflate_counting(inflater, data[pos + 8 : body_end], inflated, expected, stride, name)
        else:
            if seen_idat:
                idat_done = True
            if ctype == b"PLTE":
                seen_plte = True
            elif ctype == b"IEND":
                break
            elif ctype == b"IHDR":
                raise ImageRejected("the PNG file has a second IHDR chunk", name=name)
        pos = body_end + 4
    if not seen_idat:
        raise ImageRejected("the PNG file has no image data (IDAT)", name=name)
    if colour == 3 and not seen_plte:
        raise ImageRejected("the palette PNG has no palette (PLTE) chunk", name=name)
    try:
        tail = inflater.flush()
    except zlib.error as exc:
        raise ImageRejected(f"the PNG image data is corrupt ({exc})", name=name) from None
    _check_filters(tail, inflated, stride, name)
    inflated += len(tail)
    if not inflater.eof:
        raise ImageRejected("the PNG image data is truncated (compressed stream incomplete)", name=name)
    if inflated != expected:
        raise ImageRejected(
            f"the PNG image data holds {inflated} bytes where the header implies {expected}", name=name
        )
    mode = _PNG_MODES[colour]
    return width, height, mode


def _inflate_counting(
    inflater: zlib._Decompress, piece: bytes, inflated: int, expected: int, stride: int, name: str
) -> int:
    """Feed ``piece`` to the inflater in bounded steps, counting (and discarding) the output."""
    if inflater.eof:
        if piece:
            raise ImageRejected("the PNG file has data after the end of its compressed image", name=name)
        return inflated
    buf = piece
    try:
        while buf:
            out = inflater.decompress(buf, _INFLATE_PIECE)
            _check_filters(out, inflated, stride, name)
            inflated += len(out)
            if inflated > expected:
                raise ImageRejected(
                    "the PNG image data inflates to more bytes than its header implies", name=name
                )
            buf = inflater.unconsumed_tail
            if inflater.eof:
                if buf or inflater.unused_data:
                    raise ImageRejected(
                        "the PNG file has data after the end of its compressed image", name=name
                    )
                break
    except zlib.error as exc:
        raise ImageRejected(f"the PNG image data is corrupt ({exc})", name=name) from None
    return inflated


def _check_filters(out: bytes, offset: int, stride: int, name: str) -> None:
    """Refuse scanline filter types above 4 in ``out``, which starts ``offset`` bytes into the data."""
    if stride and out and max(out[(-offset) % stride :: stride], default=0) > 4:
        raise ImageRejected("the PNG image data is corrupt (invalid scanline filter type)", name=name)


def _chunk_name(ctype: bytes) -> str:
    text = ctype.decode("latin-1")
    return text if text.isalpha() else repr(ctype)


# -------------------------------------------------------------------------------------------- JPEG

_SOF_SUPPORTED = {0xC0: "baseline", 0xC1: "extended sequential", 0xC2: "progressive"}
_SOF_REFUSED = {
    0xC3: "lossless",
    0xC5: "hierarchical",
    0xC6: "hierarchical",
    0xC7: "hierarchical",
    0xC9: "arithmetic-coded",
    0xCA: "arithmetic-coded",
    0xCB: "arithmetic-coded",
    0xCD: "hierarchical",
    0xCE: "hierarchical",
    0xCF: "hierarchical",
}
# Markers without a length field.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _check_jpeg(data: bytes, name: str) -> tuple[int, int, str]:
    end = len(data)
    pos = 2
    frame: tuple[int, int, str] | None = None
    scans = 0
    while True:
        # Find the next marker; fill bytes (0xFF runs) are allowed before it.
        if pos >= end:
            raise ImageRejected("the JPEG file is truncated (no end-of-image marker)", name=name)
        if data[pos] != 0xFF:
            raise ImageRejected(f"the JPEG file is corrupt (expected a marker at byte {pos})", name=name)
        while pos < end and data[pos] == 0xFF:
            pos += 1
        if pos >= end:
            raise ImageRejected("the JPEG file is truncated (no end-of-image marker)", name=name)
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            break
        if marker in _STANDALONE:
            continue
        if marker == 0xD8 or marker == 0x00:
            raise ImageRejected(f"the JPEG file is corrupt (unexpected marker 0xFF{marker:02X})", name=name)
        if pos + 2 > end:
            raise ImageRejected("the JPEG file is truncated inside a segment header", name=name)
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2:
            raise ImageRejected(
                f"the JPEG file is corrupt (segment 0xFF{marker:02X} has length {length})", name=name
            )
        seg_end = pos + length
        if seg_end > end:
            raise ImageRejected(f"the JPEG file is truncated inside segment 0xFF{marker:02X}", name=name)
        if marker in _SOF_REFUSED:
            raise ImageRejected(f"{_SOF_REFUSED[marker]} JPEG files are not supported", name=name)
        if marker in _SOF_SUPPORTED:
            if frame is not None:
                raise ImageRejected("the JPEG file has more than one frame header", name=name)
            frame = _read_sof(data, pos + 2, seg_end, name)
        if marker == 0xDA:  # SOS: header, then entropy-coded data up to the next real marker
            if frame is None:
                raise ImageRejected("the JPEG file has scan data before its frame header", name=name)
            scans += 1
            pos = _skip_entropy_data(data, seg_end, name)
            continue
        pos = seg_end
    if frame is None:
        raise ImageRejected("the JPEG file has no frame header (no image size)", name=name)
    if scans == 0:
        raise ImageRejected("the JPEG file has no image data (no scan)", name=name)
    return frame


def _read_sof(data: bytes, start: int, seg_end: int, name: str) -> tuple[int, int, str]:
    if seg_end - start < 6:
        raise ImageRejected("the JPEG frame header is too short", name=name)
    precision, height, width, components = struct.unpack(">BHHB", data[start : start + 6])
    if seg_end - start < 6 + 3 * components:
        raise ImageRejected("the JPEG frame header is too short for its components", name=name)
    if precision != 8:
        raise ImageRejected(f"{precision}-bit JPEG files are not supported (8-bit only)", name=name)
    if height == 0:
        raise ImageRejected("the JPEG frame header leaves the height undefined", name=name)
    if width == 0:
        raise ImageRejected("the JPEG frame header declares a zero width", name=name)
    for index in range(components):
        sampling = data[start + 6 + 3 * index + 1]
        horizontal, vertical = sampling >> 4, sampling & 0x0F
        if not (1 <= horizontal <= 4 and 1 <= vertical <= 4):
            raise ImageRejected(
                f"the JPEG frame header has an invalid sampling factor for component {index + 1}", name=name
            )
    if components == 1:
        mode = "L"
    elif components == 3:
        mode = "RGB"
    elif components == 4:
        raise ImageRejected("CMYK JPEG files are not supported (use RGB or grayscale)", name=name)
    else:
        raise ImageRejected(f"JPEG files with {components} colour components are not supported", name=name)
    return width, height, mode


def _skip_entropy_data(data: bytes, pos: int, name: str) -> int:
    """Position of the first marker after a scan's entropy-coded bytes (stuffed 0xFF00 and RSTn skipped)."""
    find = data.find
    while True:
        pos = find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise ImageRejected("the JPEG file is truncated inside its image data", name=name)
        nxt = data[pos + 1]
        if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
            pos += 2
            continue
        if nxt == 0xFF:
            pos += 1
            continue
        return pos


# ------------------------------------------------------------------------------------------ decode


def open_checked(data: bytes, *, name: str) -> tuple[ImageInfo, Image.Image]:
    """``inspect_image`` then a fully loaded Pillow image, with bomb warnings raised as errors."""
    info = inspect_image(data, name=name)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise ImageRejected("refusing to decode while Pillow is set to load truncated images", name=name)
    try:
        image = Image.open(io.BytesIO(data), formats=["PNG" if info.format == "png" else "JPEG"])
        if image.size != (info.width, info.height):
            raise ImageRejected("the decoder sees a different size than the header", name=name)
        image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageRejected("the image has too many pixels to decode", name=name) from None
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error, struct.error) as exc:
        raise ImageRejected(f"the image could not be decoded ({exc})", name=name) from None
    return info, image


def decode_rgb(data: bytes, *, name: str = "image") -> np.ndarray:
    """Decode to an ``H x W x 3`` uint8 RGB array after the same checks as ``inspect_image``.

    Transparency is dropped (colour values kept); 16-bit samples are scaled to 8 bits; EXIF
    orientation is not applied, so the array matches the declared width and height.
    """
    _, image = open_checked(data, name=name)
    return to_rgb_array(image)


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """Any loaded Pillow image as an ``H x W x 3`` uint8 array."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(image, dtype=np.uint32)
        grey8 = (np.minimum(grey, 65535) >> 8).astype(np.uint8)
        return np.repeat(grey8[..., None], 3, axis=2)
    if image.mode != "RGB":
        image = (
            image.convert("RGBA").convert("RGB") if image.mode in ("P", "PA", "LA") else image.convert("RGB")
        )
    arr = np.asarray(image, dtype=np.uint8)
    return np.ascontiguousarray(arr)
