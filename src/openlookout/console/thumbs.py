"""Thumbnails for the gallery: a small JPEG per image blob, cached as a named blob."""

from __future__ import annotations

import io
import re

from PIL import Image

from openlookout.blobs.base import BlobNotFound, BlobStore

THUMB_SIDE = 160
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_sha256(value: str) -> bool:
    """True for a blob key (64 lower-case hex digits)."""
    return _SHA256.fullmatch(value) is not None


def thumbnail(blobs: BlobStore, sha256: str) -> bytes | None:
    """The JPEG thumbnail of blob ``sha256`` (made once, then read from the cache); None if unknown."""
    cache_name = f"console-thumbs/{sha256}.jpg"
    try:
        return blobs.get_named(cache_name)
    except BlobNotFound:
        pass
    try:
        data = blobs.get(sha256)
    except BlobNotFound:
        return None
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
        small = image.convert("RGB")
        small.thumbnail((THUMB_SIDE, THUMB_SIDE))
        out = io.BytesIO()
        small.save(out, format="JPEG", quality=80)
    jpeg = out.getvalue()
    blobs.put_named(cache_name, jpeg)
    return jpeg
