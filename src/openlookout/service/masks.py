"""The mask editor's label maps on the server: run-length transport, PNG masks and back.

The editor paints an integer label map (one byte per pixel: 0 background, ``k`` the ``k``-th
type of the list it was given) and sends it run-length encoded as JSON::

    {"width": W, "height": H, "types": ["scratch", "dent"], "runs": [0, 1200, 1, 30, 0, 4, ...]}

``runs`` alternates a value and how many pixels in a row (row-major) carry it. The server turns it
into the manifest's colour-indexed PNG with ``imaging.masks.encode_mask_png`` (transparent black
background, each type opaque in its colour) and reads stored masks back with
``imaging.masks.decode_mask``, so the editor and the service agree on every pixel.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from openlookout.errors import ValidationException
from openlookout.imaging.images import MIN_SIDE, ImageRejected
from openlookout.imaging.masks import class_names, decode_mask, encode_mask_png


@dataclass(frozen=True)
class PaintedMask:
    """A label map as posted: ``labels`` (H x W uint8) indexes ``types`` (1-based; 0 background)."""

    labels: np.ndarray
    types: tuple[str, ...]


def is_background_colour(colour: str) -> bool:
    """True when masks read ``colour`` as background even with no colour map (black, white).

    Asks the imaging layer directly: an opaque mask of that colour (of the smallest image size)
    decodes as background under an empty colour map, any other colour is refused as foreign.
    """
    out = io.BytesIO()
    Image.new("RGB", (MIN_SIDE, MIN_SIDE), colour).save(out, format="PNG")
    try:
        decode_mask(out.getvalue(), {})
    except ImageRejected:
        return False
    return True


def _int_field(document: Mapping[str, Any], key: str) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationException(f"The mask's {key} must be a positive whole number.")
    return value


def read_painted(document: Any, width: int, height: int) -> PaintedMask:
    """Check a posted label map against the image size; ``ValidationException`` names the problem."""
    if not isinstance(document, dict):
        raise ValidationException("The mask must be a JSON object with width, height, types and runs.")
    got_width, got_height = _int_field(document, "width"), _int_field(document, "height")
    if (got_width, got_height) != (width, height):
        raise ValidationException(
            f"The mask is {got_width}x{got_height} px but the image is {width}x{height} px."
        )
    types = document.get("types")
    if not isinstance(types, list) or not all(isinstance(t, str) and t for t in types):
        raise ValidationException("The mask's types must be a list of anomaly type names.")
    if len(set(types)) != len(types):
        raise ValidationException("The mask's types name one anomaly type twice.")
    if len(types) > 255:
        raise ValidationException("The mask's types list more than 255 anomaly types.")
    runs = document.get("runs")
    if (
        not isinstance(runs, list)
        or len(runs) % 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in runs)
    ):
        raise ValidationException("The mask's runs must be a list of whole numbers: value, count, ...")
    pixels = width * height
    try:
        pairs = np.asarray(runs, dtype=np.int64).reshape(-1, 2)
    except OverflowError:
        raise ValidationException("The mask's runs hold a number too large for any image.") from None
    values, counts = pairs[:, 0], pairs[:, 1]
    if ((counts < 1) | (counts > pixels)).any():
        raise ValidationException(f"Every run of the mask must cover 1 to {pixels} pixels.")
    unknown = values[(values < 0) | (values > len(types))]
    if unknown.size:
        raise ValidationException(
            f"The mask uses type number {int(unknown[0])} but lists only {len(types)} types."
        )
    if int(counts.sum()) != pixels:
        covered = int(counts.sum())
        raise ValidationException(f"The mask's runs cover {covered} pixels but the image has {pixels}.")
    labels = np.repeat(values.astype(np.uint8), counts).reshape(height, width)
    return PaintedMask(labels=labels, types=tuple(types))


def encode_runs(labels: np.ndarray) -> list[int]:
    """A label map as ``[value, count, value, count, ...]`` over its pixels in row-major order."""
    flat = np.asarray(labels).ravel()
    if flat.size == 0:
        return []
    starts = np.flatnonzero(np.concatenate(([True], flat[1:] != flat[:-1])))
    counts = np.diff(np.concatenate((starts, [flat.size])))
    return np.column_stack((flat[starts], counts)).ravel().astype(int).tolist()


def mask_png(painted: PaintedMask, colour_of: Mapping[str, str]) -> tuple[bytes, dict[str, str]] | None:
    """The colour-indexed PNG of the types the map actually shows, and its colour map.

    ``colour_of`` maps type name to ``#RRGGBB``; the colour map lists only the painted types (in
    the order of ``painted.types``). None when nothing is painted.
    """
    present = [k for k in range(1, len(painted.types) + 1) if (painted.labels == k).any()]
    if not present:
        return None
    remap = np.zeros(len(painted.types) + 1, dtype=np.uint8)
    colors: dict[str, str] = {}
    for new_index, k in enumerate(present, start=1):
        name = painted.types[k - 1]
        remap[k] = new_index
        colors[colour_of[name]] = name
    return encode_mask_png(remap[painted.labels], colors), colors


def stored_labels(
    data: bytes,
    colors: Mapping[str, str],
    background: Sequence[str],
    width: int,
    height: int,
    *,
    name: str,
) -> tuple[np.ndarray, list[str]]:
    """A stored mask as a label map and the type names its indices stand for (``ImageRejected``)."""
    labels = decode_mask(data, colors, name=name, width=width, height=height, background=background)
    return labels.astype(np.uint8), class_names(colors)
