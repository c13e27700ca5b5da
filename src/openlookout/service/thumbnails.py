"""Thumbnails for the web console's grids: a small JPEG per image blob, cached as a named blob."""

from __future__ import annotations

import io
import logging
import re

from PIL import Image

from openlookout.blobs.base import BlobError, BlobNotFound, BlobStore
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.tenancy import owns_blob

THUMB_SIDE = 160
# Modes Image.reduce works on directly; others (palette, 1-bit, 16-bit ...) become RGB first.
REDUCIBLE_MODES = {"L", "LA", "RGB", "RGBA", "CMYK"}
log = logging.getLogger(__name__)
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_sha256(value: str) -> bool:
    """True for a blob key (64 lower-case hex digits)."""
    return _SHA256.fullmatch(value) is not None


def make_thumbnail(data: bytes) -> bytes:
    """A JPEG at most ``THUMB_SIDE`` px on its longer side.

    Decoding dominates the cost: JPEGs decode at a reduced scale (draft mode); other images are
    first shrunk by a whole factor (``reduce``, a cheap box filter keeping at least twice the
    thumbnail's size) so the colour conversion and the final resampling work on few pixels.
    """
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
        image.load()
        small: Image.Image = image if image.mode in REDUCIBLE_MODES else image.convert("RGB")
        factor = min(small.width, small.height) // (2 * THUMB_SIDE)
        if factor > 1:
            small = small.reduce(factor)
        small = small.convert("RGB")
        small.thumbnail((THUMB_SIDE, THUMB_SIDE))
        out = io.BytesIO()
        small.save(out, format="JPEG", quality=80)
    return out.getvalue()


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
    try:
        jpeg = make_thumbnail(data)
    except Exception:  # stored before images were admitted in full: no thumbnail, not an error page
        log.warning("no thumbnail for blob %s: it does not decode", sha256, exc_info=True)
        return None
    try:
        blobs.put_named(cache_name, jpeg)
    except BlobError:  # a full disk: the thumbnail is still served, just not kept
        log.warning("could not keep the thumbnail of blob %s", sha256, exc_info=True)
    return jpeg


def owned_thumbnail(runtime: Runtime, ctx: RequestContext, sha256: str) -> bytes | None:
    """The thumbnail of a blob the caller's account stored itself; None for any other key, exactly
    as for a blob that never existed."""
    if not is_sha256(sha256) or not owns_blob(runtime, ctx.account_id, sha256):
        return None
    return thumbnail(runtime.blobs, sha256)
