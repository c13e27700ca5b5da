"""Run an exported detector with onnxruntime, numpy and Pillow only (no torch import).

Hosting and edge packages use :class:`OnnxDetector` to turn image bytes into the same
:class:`~openlookout.ml.types.Prediction` the torch detector returns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from openlookout.ml.imageio import decode_image, resize_image
from openlookout.ml.types import Prediction, confidence_from_score


class OnnxDetector:
    """An exported detector. ``threads`` sets onnxruntime's intra-op thread count."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        raw = self.session.get_modelmeta().custom_metadata_map.get("openlookout")
        if raw is None:
            raise ValueError(f"{path}: not an OpenLookout model (no 'openlookout' metadata)")
        self.meta: dict[str, Any] = json.loads(raw)
        height, width = self.meta["input_size"]
        self.input_size: tuple[int, int] = (int(height), int(width))
        self.anomaly_types: list[str] = list(self.meta["anomaly_types"])
        self.segmentation: bool = bool(self.meta["segmentation"])

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Raw graph call on float32 (N, 3, H, W) 0..255 RGB at ``input_size``."""
        outputs = self.session.run(None, {"image": np.ascontiguousarray(batch, dtype=np.float32)})
        score, flag, heatmap, type_mask = (np.asarray(o) for o in outputs)
        return score, flag, heatmap, type_mask

    def predict(self, images: list[np.ndarray]) -> list[Prediction]:
        """Predictions for RGB uint8 arrays of any size (resized to ``input_size``)."""
        if not images:
            return []
        batch = np.stack([resize_image(image, self.input_size) for image in images]).transpose(0, 3, 1, 2)
        score, flag, heatmap, type_mask = self.run(batch.astype(np.float32))
        results = []
        for i in range(len(images)):
            value = float(score[i])
            results.append(
                Prediction(
                    score=value,
                    is_anomalous=bool(flag[i]),
                    confidence=confidence_from_score(value),
                    heatmap=heatmap[i].astype(np.float32),
                    type_mask=type_mask[i].astype(np.int32) if self.segmentation else None,
                )
            )
        return results

    def predict_bytes(self, data: bytes | str | Path) -> Prediction:
        """Decode (JPEG/PNG bytes or a path) at the working size and predict."""
        return self.predict([decode_image(data, self.input_size)])[0]
