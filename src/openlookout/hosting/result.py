"""Run a detector on an image and turn its outputs into Lookout for Vision's ``DetectAnomalyResult``.

Standalone on purpose: this file imports only the standard library, numpy and Pillow, because
the edge bundle copies it verbatim next to its runner (see ``openlookout.packaging``). The hosting
workers, trial detection and the edge runner all call ``detect_image``, and training's evaluation
builds its masks with ``detect_result``, so every one of them answers the same result.

Result rules (spec e.4): ``IsAnomalous`` and ``Confidence`` (confidence in the predicted class)
always; for segmentation models also ``Anomalies`` -- ``background`` (``#FFFFFF``) first, then
each anomaly type with a non-zero area, ``TotalPercentageArea`` as a fraction of the image's
pixels, colours upper-case -- and ``AnomalyMask``, a PNG of the input's size with every type
painted in its colour on white.
"""

from __future__ import annotations

import io
from typing import Any, Protocol

import numpy as np
from PIL import Image

BACKGROUND_NAME = "background"
BACKGROUND_COLOR = "#FFFFFF"


class ImageDetector(Protocol):
    """What ``detect_image`` needs of a detector (``OnnxDetector`` on the server and at the edge)."""

    segmentation: bool
    anomaly_types: list[str]

    def predict_bytes(self, data: bytes) -> Any: ...


def detect_image(
    detector: ImageDetector, data: bytes, width: int, height: int, colors: dict[str, str], heatmap: bool
) -> dict[str, Any]:
    """Run ``detector`` on encoded image bytes of ``width`` x ``height`` and build the result members
    (``AnomalyMask`` and, when asked, ``Heatmap`` as PNG bytes). ``colors``: type name -> ``#RRGGBB``."""
    prediction = detector.predict_bytes(data)
    result = detect_result(
        is_anomalous=prediction.is_anomalous,
        confidence=prediction.confidence,
        type_mask=prediction.type_mask if detector.segmentation else None,
        width=width,
        height=height,
        anomaly_types=list(detector.anomaly_types),
        colors=colors,
    )
    if heatmap:
        result["Heatmap"] = heatmap_png(prediction.heatmap, width, height)
    return result


def resize_nearest(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of an integer (H, W) array to (height, width)."""
    mask = np.asarray(mask)
    if mask.shape == (height, width):
        return mask
    rows = (np.arange(height) * mask.shape[0] // height).astype(np.intp)
    cols = (np.arange(width) * mask.shape[1] // width).astype(np.intp)
    return mask[rows][:, cols]


def _rgb(color: str) -> tuple[int, int, int]:
    code = int(color.lstrip("#"), 16)
    return (code >> 16) & 0xFF, (code >> 8) & 0xFF, code & 0xFF


def mask_png(type_mask: np.ndarray, colors: list[str]) -> bytes:
    """PNG of a type-index mask: 0 white, ``k`` in ``colors[k - 1]``."""
    palette = np.array([(255, 255, 255)] + [_rgb(c) for c in colors], dtype=np.uint8)
    index = np.clip(np.asarray(type_mask, dtype=np.int64), 0, len(colors))
    image = Image.fromarray(palette[index], "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def detect_result(
    *,
    is_anomalous: bool,
    confidence: float,
    type_mask: np.ndarray | None,
    width: int,
    height: int,
    anomaly_types: list[str],
    colors: dict[str, str],
) -> dict[str, Any]:
    """The ``DetectAnomalyResult`` members; ``AnomalyMask`` as PNG bytes (the API encodes base64).

    ``colors`` maps anomaly type name -> ``#RRGGBB``; ``type_mask`` (None for classification
    models) holds 0 for background and ``k`` for ``anomaly_types[k - 1]`` at any resolution.
    """
    result: dict[str, Any] = {
        "Source": {"Type": "direct"},
        "IsAnomalous": bool(is_anomalous),
        "Confidence": float(confidence),
    }
    if type_mask is None:
        return result
    full = resize_nearest(type_mask, height, width)
    counts = np.bincount(
        np.clip(full.ravel().astype(np.int64), 0, len(anomaly_types)), minlength=len(anomaly_types) + 1
    )
    total = float(full.size)
    anomalies = [
        {
            "Name": BACKGROUND_NAME,
            "PixelAnomaly": {"TotalPercentageArea": float(counts[0]) / total, "Color": BACKGROUND_COLOR},
        }
    ]
    for k, name in enumerate(anomaly_types, start=1):
        if counts[k] > 0:
            anomalies.append(
                {
                    "Name": name,
                    "PixelAnomaly": {
                        "TotalPercentageArea": float(counts[k]) / total,
                        "Color": colors.get(name, "#FF0000").upper(),
                    },
                }
            )
    result["Anomalies"] = anomalies
    result["AnomalyMask"] = mask_png(full, [colors.get(name, "#FF0000").upper() for name in anomaly_types])
    return result


def heatmap_png(heatmap: np.ndarray, width: int, height: int) -> bytes:
    """A greyscale-to-red PNG of a [0, 1] anomaly heatmap at the input's size (brighter = more anomalous)."""
    values = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    grey = Image.fromarray((values * 255.0).astype(np.uint8), "L").resize(
        (width, height), Image.Resampling.BILINEAR
    )
    level = np.asarray(grey, dtype=np.uint8)
    green = ((255 - level.astype(np.int16)) // 4).astype(np.uint8)
    rgb = np.stack([level, green, np.zeros_like(level)], axis=2)
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
