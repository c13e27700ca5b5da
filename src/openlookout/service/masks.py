"""Masks as the web console's editor paints them: run-length label maps, PNG masks and back.

The editor paints an integer label map (one byte per pixel: 0 background, ``k`` the ``k``-th
type of the list it was given) and sends it run-length encoded as JSON::

    {"width": W, "height": H, "types": ["scratch", "dent"], "runs": [0, 1200, 1, 30, 0, 4, ...]}

``runs`` alternates a value and how many pixels in a row (row-major) carry it. The server turns it
into the manifest's colour-indexed PNG with ``imaging.masks.encode_mask_png`` (transparent black
background, each type opaque in its colour) and reads stored masks back with
``imaging.masks.decode_mask``, so the editor and the service agree on every pixel.

``read_mask`` answers an image's stored mask as such a document; ``save_mask`` stores a painted one
as the image's mask through an entry edit (``service.entry_edits``: the rules and states of
UpdateDatasetEntries, applied in the request) with a Ground Truth line that keeps the image's
source-ref and label attribute, labels it anomaly and points its ``anomaly-mask-ref`` at
``upload://<sha256>/<name>``. Nothing painted leaves the image anomalous without a mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from openlookout.blobs.base import BlobError
from openlookout.errors import ValidationException
from openlookout.imaging.images import ImageRejected
from openlookout.imaging.manifest import DEFAULT_MASK_ATTRIBUTE, new_entry, render_entry
from openlookout.imaging.masks import class_names, decode_mask, encode_mask_png
from openlookout.service.anomaly_types import project_types
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.entry_edits import edit_entries
from openlookout.service.gallery import find_image
from openlookout.service.tenancy import record_blobs
from openlookout.sources.reader import upload_ref

JOB_NAME = "openlookout/console"


@dataclass(frozen=True)
class PaintedMask:
    """A label map as posted: ``labels`` (H x W uint8) indexes ``types`` (1-based; 0 background)."""

    labels: np.ndarray
    types: tuple[str, ...]


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


def read_mask(
    runtime: Runtime, ctx: RequestContext, project_name: str, dataset_type: str, ref: str
) -> dict[str, Any]:
    """The image's stored mask as the editor's label map document (no runs without a mask)."""
    image = find_image(runtime, ctx, project_name, dataset_type, ref)
    entry = image.entry
    document: dict[str, Any] = {"width": image.width, "height": image.height, "types": [], "runs": []}
    if image.mask_sha256 is None or entry.mask_ref is None:
        return document
    try:
        data = runtime.blobs.get(image.mask_sha256)
        labels, names = stored_labels(
            data, entry.colors, entry.background, image.width, image.height, name=entry.mask_ref
        )
    except BlobError as exc:
        raise ValidationException(f"The stored mask cannot be read: {exc}") from None
    except ImageRejected as exc:
        raise ValidationException(f"The stored mask cannot be used: {exc.reason}") from None
    colour_of = {n: c for c, n in reversed(entry.colors.items())}
    document["types"] = [{"name": n, "color": colour_of[n]} for n in names]
    document["runs"] = encode_runs(labels)
    return document


def save_mask(
    runtime: Runtime,
    ctx: RequestContext,
    project_name: str,
    dataset_type: str,
    ref: str,
    document: Any,
) -> dict[str, Any]:
    """Store the painted label map ``document`` as the image's mask; the pixel count of each type.

    Every type the map uses must be one of the project's anomaly types (``service.anomaly_types``).
    """
    image = find_image(runtime, ctx, project_name, dataset_type, ref)
    painted = read_painted(document, image.width, image.height)
    type_colours = {t.name: t.color for t in project_types(runtime, ctx, project_name)}
    for type_name in painted.types:
        if type_name not in type_colours:
            raise ValidationException(
                f"The project has no anomaly type {type_name}; add it on the anomaly types page first."
            )
    built = mask_png(painted, {n: type_colours[n] for n in painted.types})
    old = image.entry
    if built is None:
        entry = new_entry(ref, "anomaly", label_attribute=old.label_attribute, job_name=JOB_NAME)
    else:
        png, colors = built
        key = runtime.blobs.put(png)
        with runtime.db.begin() as conn:  # the edit below reads it back by its upload:// reference
            record_blobs(conn, ctx.account_id, key)
        stem = ref.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "image"
        entry = new_entry(
            ref,
            "anomaly",
            mask_ref=upload_ref(key, f"{stem}-mask.png"),
            colors=colors,
            label_attribute=old.label_attribute,
            mask_attribute=old.mask_attribute or DEFAULT_MASK_ATTRIBUTE,
            job_name=JOB_NAME,
        )
    edit_entries(runtime, ctx, project_name, dataset_type, [render_entry(entry)])
    counts = np.bincount(painted.labels.ravel(), minlength=len(painted.types) + 1)
    painted_counts = {t: int(counts[k]) for k, t in enumerate(painted.types, start=1) if counts[k]}
    total = sum(painted_counts.values())
    message = (
        f"Saved: {total} mask pixels." if total else "Saved as anomaly, without a mask (nothing painted)."
    )
    return {"message": message, "maskRef": entry.mask_ref, "counts": painted_counts}
