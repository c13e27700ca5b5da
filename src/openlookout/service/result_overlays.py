"""Overlays for the per-image test results: predicted heatmaps and masks, ground-truth masks.

The predicted mask of a test image is the one training drew for the evaluation: the same
cross-fitted prediction the metrics count (``<model folder>/EvaluationMasks/<n>.png``, see
``service.evaluation``). Heatmaps, and the masks of models trained before training stored them,
are computed on demand in the server's process by running the model's ONNX export with
``OnnxDetector`` (the model need not be hosted), then cached as named blobs keyed by the model's
id and the image's sha256 (``console-heatmaps/<model id>/<sha>.png``,
``console-predicted-masks/<model id>/<sha>.png``). Masks come back as palette PNGs with a fully
transparent background, so the browser can lay them over the image at any opacity.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image

from openlookout.blobs.base import BlobNotFound, BlobStore
from openlookout.hosting.result import heatmap_png, resize_nearest
from openlookout.imaging.manifest import parse_line
from openlookout.imaging.masks import decode_mask, encode_mask_png
from openlookout.ml.runtime import OnnxDetector
from openlookout.ml.types import Prediction
from openlookout.store.models import ModelRow, TrainingEntry

DETECTOR_CACHE_SIZE = 2
_detectors: OrderedDict[int, OnnxDetector] = OrderedDict()
_lock = threading.Lock()


def detector_for(blobs: BlobStore, model: ModelRow) -> OnnxDetector:
    """The model's ONNX detector, loaded once per model and kept for the next images."""
    if not model.onnx_blob:
        raise LookupError(f"model version {model.version} has no exported detector")
    with _lock:
        found = _detectors.get(model.id)
        if found is not None:
            _detectors.move_to_end(model.id)
            return found
        data = blobs.get_named(model.onnx_blob)
        with tempfile.TemporaryDirectory(prefix="openlookout-console-") as folder:
            path = os.path.join(folder, "model.onnx")
            with open(path, "wb") as handle:
                handle.write(data)
            detector = OnnxDetector(path, threads=1)
        _detectors[model.id] = detector
        while len(_detectors) > DETECTOR_CACHE_SIZE:
            _detectors.popitem(last=False)
        return detector


def _image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def _predict(blobs: BlobStore, model: ModelRow, image: bytes) -> Prediction:
    return detector_for(blobs, model).predict_bytes(image)


def _cached(blobs: BlobStore, name: str) -> bytes | None:
    try:
        return blobs.get_named(name)
    except BlobNotFound:
        return None


def heatmap_overlay(blobs: BlobStore, model: ModelRow, image_sha256: str) -> bytes:
    """The predicted heatmap PNG at the image's size (red = more anomalous)."""
    name = f"console-heatmaps/{model.id}/{image_sha256}.png"
    found = _cached(blobs, name)
    if found is not None:
        return found
    image = blobs.get(image_sha256)
    width, height = _image_size(image)
    png = heatmap_png(_predict(blobs, model, image).heatmap, width, height)
    blobs.put_named(name, png)
    return png


def predicted_mask_overlay(blobs: BlobStore, model: ModelRow, image_sha256: str) -> bytes | None:
    """The predicted anomaly-type mask of a segmentation model (transparent background); None for
    a classification model."""
    name = f"console-predicted-masks/{model.id}/{image_sha256}.png"
    found = _cached(blobs, name)
    if found is not None:
        return found
    image = blobs.get(image_sha256)
    detector = detector_for(blobs, model)
    if not detector.segmentation:
        return None
    prediction = detector.predict_bytes(image)
    if prediction.type_mask is None:
        return None
    width, height = _image_size(image)
    png = type_mask_png(prediction.type_mask, width, height, detector.anomaly_types, model.colors or {})
    blobs.put_named(name, png)
    return png


def type_mask_png(
    type_mask: np.ndarray, width: int, height: int, anomaly_types: Sequence[str], colors: Mapping[str, str]
) -> bytes:
    """A predicted type mask (0 background, ``k`` = ``anomaly_types[k-1]``) as a palette PNG of
    ``width`` x ``height`` with a transparent background, each type in its colour."""
    colour_map = {colors.get(t, "#FF0000").upper(): t for t in anomaly_types}
    return encode_mask_png(resize_nearest(type_mask, height, width), colour_map)


def truth_mask_overlay(blobs: BlobStore, entry: TrainingEntry) -> bytes | None:
    """The entry's ground-truth mask redrawn on a transparent background; None without a mask."""
    if not entry.mask_sha256:
        return None
    parsed = parse_line(entry.entry_json, 1)
    image = blobs.get(entry.image_sha256)
    width, height = _image_size(image)
    labels = decode_mask(
        blobs.get(entry.mask_sha256),
        parsed.colors,
        name=f"mask of {entry.source_ref}",
        width=width,
        height=height,
        background=parsed.background,
    )
    return encode_mask_png(labels, parsed.colors)
