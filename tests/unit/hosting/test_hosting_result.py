"""The DetectAnomalyResult builder (pure numpy/Pillow)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from openlookout.hosting.result import detect_result, resize_nearest


def test_classification_results_carry_only_the_verdict() -> None:
    result = detect_result(
        is_anomalous=False, confidence=0.9, type_mask=None, width=10, height=8, anomaly_types=[], colors={}
    )
    assert result == {"Source": {"Type": "direct"}, "IsAnomalous": False, "Confidence": 0.9}


def test_segmentation_areas_colours_and_mask() -> None:
    mask = np.zeros((4, 5), dtype=np.int64)
    mask[0, :] = 2  # 5 of 20 cells "dent"
    mask[1, 0] = 1  # 1 of 20 cells "crack"
    result = detect_result(
        is_anomalous=True,
        confidence=0.8,
        type_mask=mask,
        width=10,
        height=8,
        anomaly_types=["crack", "dent", "stain"],
        colors={"crack": "#ff0000", "dent": "#0000FF", "stain": "#00FF00"},
    )
    names = [a["Name"] for a in result["Anomalies"]]
    assert names == ["background", "crack", "dent"]  # no zero-area entry for stain
    areas = [a["PixelAnomaly"]["TotalPercentageArea"] for a in result["Anomalies"]]
    assert areas == pytest.approx([14 / 20, 1 / 20, 5 / 20])
    assert result["Anomalies"][1]["PixelAnomaly"]["Color"] == "#FF0000"
    image = np.asarray(Image.open(io.BytesIO(result["AnomalyMask"])).convert("RGB"))
    assert image.shape == (8, 10, 3)
    assert tuple(image[0, 0]) == (0, 0, 255) and tuple(image[2, 0]) == (255, 0, 0)
    assert tuple(image[7, 9]) == (255, 255, 255)


def test_resize_nearest_keeps_labels() -> None:
    small = np.array([[0, 1], [2, 3]])
    big = resize_nearest(small, 4, 6)
    assert big.shape == (4, 6)
    assert set(np.unique(big)) == {0, 1, 2, 3}
    assert big[0, 0] == 0 and big[3, 5] == 3
