"""Export a fitted detector to one ONNX graph: image tensor -> (score, is_anomalous, heatmap, type_mask).

Graph input ``image``: float32 (N, 3, H, W), RGB values 0..255 at the detector's working size
``input_size_`` (H, W) (resize with :func:`openlookout.ml.imageio.resize_image`; the ONNX runner
does this). ImageNet normalisation, features, normality models, fusion, smoothing, threshold and
calibration are inside the graph. Outputs: ``score`` (N,) float32 calibrated anomaly probability;
``is_anomalous`` (N,) bool, the learned threshold applied; ``heatmap`` (N, H, W) float32;
``type_mask`` (N, H, W) int64 (0 background, k = anomaly type k). The model's metadata
(``openlookout`` key) holds the JSON config: input size, anomaly types, segmentation flag,
threshold and scale.

Parity: onnxruntime reproduces torch's score within 1e-4 absolute and the heatmap within 1e-3
(float32 summation order differs); the test suite checks this.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import onnx
import torch
from torch import Tensor, nn

from openlookout.ml.detector import AnomalyDetector

OPSET = 17
TOLERANCE_SCORE = 1e-4
TOLERANCE_HEATMAP = 1e-3


class _Wrapper(nn.Module):
    def __init__(self, graph: nn.Module) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        score, flag, heatmap, type_mask = self.graph(image)
        return score, flag, heatmap, type_mask


def export_onnx(detector: AnomalyDetector, path: str | Path, opset: int = OPSET) -> Path:
    """Write the fitted ``detector`` as an ONNX file at ``path`` and return the path."""
    if not hasattr(detector, "graph_"):
        raise RuntimeError("fit the detector before exporting it")
    path = Path(path)
    height, width = detector.input_size_
    example = torch.zeros(1, 3, height, width)
    wrapper = _Wrapper(detector.graph_).eval()
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter notes Slice ops it cannot constant-fold; harmless here
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        torch.onnx.export(
            wrapper,
            (example,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=["image"],
            output_names=["score", "is_anomalous", "heatmap", "type_mask"],
            dynamic_axes={
                "image": {0: "batch"},
                "score": {0: "batch"},
                "is_anomalous": {0: "batch"},
                "heatmap": {0: "batch"},
                "type_mask": {0: "batch"},
            },
        )
    model = onnx.load(str(path))
    meta = {
        "format": "openlookout-onnx/1",
        "input_size": [height, width],
        "anomaly_types": detector.anomaly_types_,
        "segmentation": detector.segmentation_,
        "threshold": detector.threshold_,
        "scale": detector.scale_,
        "components": list(detector.components_),
        "weights_source": detector.weights_source_,
    }
    entry = model.metadata_props.add()
    entry.key = "openlookout"
    entry.value = json.dumps(meta)
    onnx.save(model, str(path))
    return path
