"""The door every image goes through once: decoded in full, turned upright, or refused.

``inspect_image`` checks structure without decoding pixels; that let through files whose pixels
are fine but which Pillow refuses later (a PNG whose zTXt chunk inflates past Pillow's text limit:
training, hosting, thumbnails and trials all failed on it). ``admit_image`` decodes the whole image
with ``images.open_checked``, the same code and limits training uses (``decode_rgb``), so an image
admitted here decodes everywhere after.

EXIF orientation is applied here, once: browsers draw a JPEG with ``Orientation: 6`` turned a
quarter, while the decoders of training and hosting read its pixels as stored. An image with an
orientation other than 1 is turned upright and re-encoded in its own format without the tag (JPEG
at quality 95, PNG losslessly), so the stored copy, the console, the mask editor and the model all
see the same pixels at the same size. An image without one is kept byte for byte.

Full decodes hold the whole picture in memory (up to about 64 MB for 4096 x 4096), so at most
``DECODE_SLOTS`` run at once in the process; the others wait their turn.
"""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass

from PIL import Image, ImageOps

from openlookout.imaging.images import ImageInfo, ImageRejected, inspect_image, open_checked

EXIF_ORIENTATION = 0x0112
DECODE_SLOTS = max(2, min(4, os.cpu_count() or 2))
_decoding = threading.BoundedSemaphore(DECODE_SLOTS)


@dataclass(frozen=True)
class AdmittedImage:
    """An image that decodes in full: the bytes to keep (upright) and their facts."""

    data: bytes
    info: ImageInfo
    # The orientation the original declared (1 when none); the bytes are upright either way.
    orientation: int = 1

    @property
    def turned(self) -> bool:
        return self.orientation != 1


def admit_image(data: bytes, *, name: str) -> AdmittedImage:
    """Decode ``data`` in full and apply its EXIF orientation; ``ImageRejected`` with the reason."""
    with _decoding:
        info, image = open_checked(data, name=name)
        try:
            orientation = exif_orientation(image)
            if orientation == 1:
                return AdmittedImage(data, info)
            upright = _upright_bytes(image, info, name)
        finally:
            image.close()
    return AdmittedImage(upright, inspect_image(upright, name=name), orientation)


def exif_orientation(image: Image.Image) -> int:
    """The image's EXIF orientation (1 to 8); 1 when absent, unreadable or out of range."""
    try:
        value = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # a malformed EXIF block says nothing reliable about orientation
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _upright_bytes(image: Image.Image, info: ImageInfo, name: str) -> bytes:
    try:
        turned = ImageOps.exif_transpose(image)
    except Exception as exc:
        raise ImageRejected(f"the image's EXIF orientation cannot be applied ({exc})", name=name) from None
    out = io.BytesIO()
    if info.format == "jpeg":
        turned = turned if turned.mode in ("L", "RGB") else turned.convert("RGB")
        turned.save(out, format="JPEG", quality=95)
    else:
        turned.save(out, format="PNG", compress_level=6)
    return out.getvalue()
