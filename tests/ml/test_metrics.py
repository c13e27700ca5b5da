"""Metrics and calibration on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openlookout.ml.calibration import auroc, average_precision, f1_optimal_threshold, fit_scale
from openlookout.ml.metrics import evaluate
from openlookout.ml.types import Prediction, confidence_from_score


def _p(score: float, heat: np.ndarray | None = None, types: np.ndarray | None = None) -> Prediction:
    heatmap = np.zeros((2, 2), np.float32) if heat is None else heat.astype(np.float32)
    return Prediction(score, score >= 0.5, confidence_from_score(score), heatmap, types)


def test_auroc_hand_cases() -> None:
    assert auroc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == 1.0
    assert auroc(np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1])) == 0.0
    # one inversion out of four pairs
    assert auroc(np.array([0.1, 0.6, 0.5, 0.9]), np.array([0, 0, 1, 1])) == 0.75
    # a tie counts half
    assert auroc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    assert math.isnan(auroc(np.array([0.1, 0.2]), np.array([0, 0])))


def test_average_precision_hand_case() -> None:
    # ranking: pos, neg, pos -> precision at the positives: 1 and 2/3
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1])) == pytest.approx((1 + 2 / 3) / 2)


def test_precision_recall_f1_at_the_threshold() -> None:
    predictions = [_p(0.9), _p(0.7), _p(0.4), _p(0.2), _p(0.6)]
    report = evaluate(predictions, [1, 1, 1, 0, 0])
    # predicted anomalous: 0, 1, 4 -> tp 2, fp 1, fn 1
    assert (report.true_positives, report.false_positives, report.false_negatives, report.true_negatives) == (
        2,
        1,
        1,
        1,
    )
    assert report.precision == pytest.approx(2 / 3) and report.recall == pytest.approx(2 / 3)
    assert report.f1 == pytest.approx(2 / 3)
    assert report.images[2] == {
        "index": 2,
        "label": 1,
        "is_anomalous": False,
        "correct": False,
        "score": 0.4,
        "confidence": pytest.approx(0.6),
    }


def test_per_label_metrics_and_iou() -> None:
    truth_a = np.array([[1, 1], [0, 0]])
    pred_a = np.array([[1, 0], [0, 0]])  # IoU 1/2
    truth_b = np.array([[0, 0], [2, 2]])
    pred_b = np.array([[0, 0], [2, 1]])  # label 2 IoU 1/2; label 1 false positive
    normal = np.zeros((2, 2), int)
    predictions = [
        _p(0.9, pred_a.astype(float), pred_a),
        _p(0.8, pred_b.astype(float), pred_b),
        _p(0.1, normal * 0.0, normal),
    ]
    report = evaluate(predictions, [1, 1, 0], [truth_a, truth_b, None], ["dent", "scratch"])
    by = {m.label: m for m in report.labels}
    # dent: image 0 tp, image 1 fp -> precision 1/2, recall 1; IoU (1/2 + 0) / 2
    assert (
        by["dent"].precision == 0.5
        and by["dent"].recall == 1.0
        and by["dent"].mean_iou == pytest.approx(0.25)
    )
    assert by["scratch"].f1 == 1.0 and by["scratch"].mean_iou == pytest.approx(0.5)
    assert report.pixel_auroc is not None and 0.5 < report.pixel_auroc <= 1.0


def test_f1_optimal_threshold_separates() -> None:
    threshold, f1 = f1_optimal_threshold(np.array([0.1, 0.2, 0.3, 0.7, 0.8]), np.array([0, 0, 0, 1, 1]))
    assert f1 == 1.0 and 0.3 < threshold < 0.7
    assert fit_scale(np.array([0.1, 0.2, 0.8]), np.array([0, 0, 1]), threshold) > 0


def test_confidence_semantics() -> None:
    assert confidence_from_score(0.01) == pytest.approx(0.99)
    assert confidence_from_score(0.97) == pytest.approx(0.97)
