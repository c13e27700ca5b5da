"""Images that look fine to a structural check and still break a decoder, and rotated JPEGs."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, PngImagePlugin


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def poison_png(width: int = 96, height: int = 64, *, after_pixels: bool = False, seed: int = 0) -> bytes:
    """A valid PNG plus a zTXt chunk that inflates past Pillow's text limit (the "poison PNG").

    Its pixels and every chunk CRC are fine, so a structural check passes it; Pillow refuses to
    open (zTXt before the image data) or to finish loading it (zTXt after).
    """
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    png = out.getvalue()
    text = b"Comment\x00\x00" + zlib.compress(b"A" * (PngImagePlugin.MAX_TEXT_CHUNK + 4096), 9)
    if after_pixels:
        return png[:-12] + _chunk(b"zTXt", text) + png[-12:]
    return png[:33] + _chunk(b"zTXt", text) + png[33:]


def rotated_jpeg(width: int = 128, height: int = 64, orientation: int = 6) -> tuple[bytes, np.ndarray]:
    """A ``width`` x ``height`` JPEG tagged with EXIF ``orientation``, and its upright RGB pixels.

    The stored picture has a white band over its left quarter; with orientation 6 (turn a quarter
    clockwise to view) the upright picture is ``height`` x ``width`` with the band on top.
    """
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 4] = 255
    pixels[:, width // 4 :, 2] = 90
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95, exif=exif.tobytes())
    upright = {6: np.rot90(pixels, k=-1), 8: np.rot90(pixels, k=1), 3: np.rot90(pixels, k=2)}.get(
        orientation, pixels
    )
    return out.getvalue(), np.ascontiguousarray(upright)
