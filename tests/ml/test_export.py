"""ONNX export parity (onnxruntime vs torch) and the torch-free runner."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic_ml import make_set

from conftest import Data
from openlookout.ml.detector import AnomalyDetector
from openlookout.ml.export import TOLERANCE_HEATMAP, TOLERANCE_SCORE, export_onnx
from openlookout.ml.runtime import OnnxDetector


@pytest.mark.parametrize("name", ["lite0", "lite2"])
def test_onnxruntime_matches_torch(
    name: str, fitted: dict[str, AnomalyDetector], unseen_test_set: Data, tmp_path: Path
) -> None:
    detector = fitted[name]
    path = export_onnx(detector, tmp_path / "model.onnx")
    runner = OnnxDetector(path, threads=2)
    assert runner.input_size == detector.input_size_
    images = unseen_test_set[0]
    for a, b in zip(detector.predict(images), runner.predict(images), strict=True):
        assert abs(a.score - b.score) <= TOLERANCE_SCORE
        assert a.is_anomalous == b.is_anomalous
        assert np.abs(a.heatmap - b.heatmap).max() <= TOLERANCE_HEATMAP


def test_segmentation_export_has_type_mask(tmp_path: Path) -> None:
    images, labels, masks = make_set(seed=6, n_normal=10, defects={"spot": 4})
    detector = AnomalyDetector(preset="fast", image_size=96).fit(images, labels, masks, ["spot"])
    runner = OnnxDetector(export_onnx(detector, tmp_path / "seg.onnx"))
    assert runner.segmentation and runner.anomaly_types == ["spot"]
    for a, b in zip(detector.predict(images[-4:]), runner.predict(images[-4:]), strict=True):
        assert a.type_mask is not None and b.type_mask is not None
        # pixels exactly at the threshold may flip; allow a handful
        assert (a.type_mask != b.type_mask).mean() < 0.001


def test_runner_reads_jpeg_bytes(
    fitted: dict[str, AnomalyDetector], unseen_test_set: Data, tmp_path: Path
) -> None:
    runner = OnnxDetector(export_onnx(fitted["lite0"], tmp_path / "m.onnx"), threads=1)
    buffer = io.BytesIO()
    Image.fromarray(unseen_test_set[0][-1]).save(buffer, format="JPEG", quality=95)
    prediction = runner.predict_bytes(buffer.getvalue())
    assert prediction.heatmap.shape == runner.input_size
    assert prediction.confidence >= 0.5


def test_runtime_does_not_import_torch() -> None:
    code = (
        "import sys, openlookout.ml.runtime, openlookout.ml.types, openlookout.ml.imageio;"
        "from openlookout.ml import OnnxDetector;"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
