"""Segmentation models: typed masks in, per-pixel type masks out, per-label metrics."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_ml import make_set

from openlookout.ml.detector import AnomalyDetector
from openlookout.ml.metrics import evaluate

TYPES = ["spot", "scratch", "missing"]


@pytest.fixture(scope="module")
def segmentation_model() -> AnomalyDetector:
    images, labels, masks = make_set(seed=3, n_normal=12, defects={"spot": 5, "scratch": 5})
    return AnomalyDetector(preset="fast", image_size=96).fit(images, labels, masks, TYPES)


def test_type_mask_names_the_seen_types(segmentation_model: AnomalyDetector) -> None:
    images, labels, masks = make_set(seed=4, n_normal=6, defects={"spot": 4, "scratch": 4})
    predictions = segmentation_model.predict(images)
    assert segmentation_model.segmentation_ and segmentation_model.anomaly_types_ == TYPES
    for p in predictions:
        assert p.type_mask is not None and p.type_mask.shape == segmentation_model.input_size_
        assert set(np.unique(p.type_mask)) <= {0, 1, 2, 3}
    report = evaluate(predictions, labels, masks, TYPES)
    assert report.pixel_auroc is not None and report.pixel_auroc > 0.85
    by_name = {m.label: m for m in report.labels}
    assert by_name["spot"].support == 4 and by_name["scratch"].support == 4
    assert by_name["spot"].recall >= 0.75
    assert by_name["spot"].mean_iou > 0.01
    assert report.image_auroc >= 0.85


def test_unseen_type_is_still_flagged(segmentation_model: AnomalyDetector) -> None:
    images, _, _ = make_set(seed=5, n_normal=6, defects={"missing": 6})
    scores = np.array([p.score for p in segmentation_model.predict(images)])
    assert scores[6:].mean() > scores[:6].mean()
    assert np.mean([s >= 0.5 for s in scores[6:]]) >= 0.5
