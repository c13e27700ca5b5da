"""Anomaly detection models: backbones, detectors, metrics, export. Imports no web or database code.

Public entry points (imported lazily, so that ``openlookout.ml.runtime`` and
``openlookout.ml.types`` stay usable without torch):

- :class:`AnomalyDetector` (``openlookout.ml.detector``): ``fit`` / ``predict`` / ``save`` / ``load``;
- :class:`Prediction` (``openlookout.ml.types``);
- :func:`evaluate` and :class:`EvaluationReport` (``openlookout.ml.metrics``);
- :func:`export_onnx` (``openlookout.ml.export``);
- :class:`OnnxDetector` (``openlookout.ml.runtime``, onnxruntime + numpy + Pillow only).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# torch's OpenMP threads spin while they wait; when the cores are shared (an API server, inference
# units, another training) spinning threads starve each other and a 2-thread training ran up to 15x
# slower than a 1-thread one. Passive waiting avoids that; it must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_EXPORTS = {
    "AnomalyDetector": "openlookout.ml.detector",
    "PRESETS": "openlookout.ml.detector",
    "Prediction": "openlookout.ml.types",
    "evaluate": "openlookout.ml.metrics",
    "EvaluationReport": "openlookout.ml.metrics",
    "export_onnx": "openlookout.ml.export",
    "OnnxDetector": "openlookout.ml.runtime",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'openlookout.ml' has no attribute {name!r}")
