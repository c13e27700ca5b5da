"""The common check suite, run over every detector configuration in ``conftest.DETECTORS``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import DETECTORS, Data
from openlookout.ml.calibration import auroc
from openlookout.ml.detector import AnomalyDetector
from openlookout.ml.types import Prediction

NAMES = sorted(DETECTORS)


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_learned_state_has_trailing_underscore(name: str, train_set: Data) -> None:
    images, labels, _ = train_set
    detector = AnomalyDetector(**DETECTORS[name])
    assert not [k for k in vars(detector) if k.endswith("_")], "no learned state before fit"
    assert detector.get_params() == {**AnomalyDetector().get_params(), **DETECTORS[name]}
    assert detector.fit(images[:8] + images[-3:], labels[:8] + labels[-3:]) is detector
    learned = {k for k in vars(detector) if k.endswith("_")}
    assert {"graph_", "threshold_", "scale_", "input_size_", "components_"} <= learned
    assert detector.get_params() == {**AnomalyDetector().get_params(), **DETECTORS[name]}


@pytest.mark.parametrize("name", NAMES)
def test_predictions_have_the_documented_shape(
    name: str, fitted: dict[str, AnomalyDetector], unseen_test_set: Data
) -> None:
    detector = fitted[name]
    images = unseen_test_set[0][:3]
    predictions = detector.predict(images)
    assert len(predictions) == 3
    for p in predictions:
        assert isinstance(p, Prediction)
        assert 0.0 <= p.score <= 1.0
        assert p.heatmap.dtype == np.float32 and p.heatmap.shape == detector.input_size_
        assert np.all((p.heatmap >= 0) & (p.heatmap <= 1))
        assert p.type_mask is None  # a classification model has no type mask


@pytest.mark.parametrize("name", NAMES)
def test_confidence_is_confidence_in_the_predicted_class(
    name: str, fitted: dict[str, AnomalyDetector], unseen_test_set: Data
) -> None:
    for p in fitted[name].predict(unseen_test_set[0]):
        assert p.is_anomalous == (p.score >= 0.5)
        assert 0.5 <= p.confidence <= 1.0
        assert p.confidence == pytest.approx(p.score if p.is_anomalous else 1.0 - p.score)


@pytest.mark.parametrize("name", NAMES)
def test_detects_defect_types_never_seen_in_training(
    name: str, fitted: dict[str, AnomalyDetector], unseen_test_set: Data
) -> None:
    images, labels, _ = unseen_test_set
    predictions = fitted[name].predict(images)
    scores = np.array([p.score for p in predictions])
    assert auroc(scores, np.array(labels)) >= 0.85
    flags = np.array([p.is_anomalous for p in predictions])
    assert (flags == np.array(labels, dtype=bool)).mean() >= 0.65


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_with_a_seed(
    name: str, fitted: dict[str, AnomalyDetector], train_set: Data, unseen_test_set: Data
) -> None:
    images, labels, _ = train_set
    again = AnomalyDetector(**DETECTORS[name]).fit(images, labels)
    first = fitted[name].predict(unseen_test_set[0][:4])
    second = again.predict(unseen_test_set[0][:4])
    assert again.threshold_ == fitted[name].threshold_
    for a, b in zip(first, second, strict=True):
        assert a.score == b.score
        np.testing.assert_array_equal(a.heatmap, b.heatmap)


@pytest.mark.parametrize("name", NAMES)
def test_threshold_comes_from_training_data_only(
    name: str, fitted: dict[str, AnomalyDetector], unseen_test_set: Data
) -> None:
    detector = fitted[name]
    before = (detector.threshold_, detector.scale_, detector.pixel_threshold_)
    detector.predict(unseen_test_set[0])
    assert (detector.threshold_, detector.scale_, detector.pixel_threshold_) == before
    # the learned threshold is the calibrated 0.5 point of the out-of-fold training scores
    assert detector.oof_scores_.shape == (18,)
    assert float(detector.graph_.threshold) == pytest.approx(detector.threshold_)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip(
    name: str, fitted: dict[str, AnomalyDetector], unseen_test_set: Data, tmp_path: Path
) -> None:
    detector = fitted[name]
    path = tmp_path / "model.pt"
    detector.save(path)
    loaded = AnomalyDetector.load(path)
    assert loaded.get_params() == detector.get_params()
    assert loaded.threshold_ == detector.threshold_ and loaded.input_size_ == detector.input_size_
    for a, b in zip(
        detector.predict(unseen_test_set[0][:4]), loaded.predict(unseen_test_set[0][:4]), strict=True
    ):
        assert a.score == b.score and a.is_anomalous == b.is_anomalous
        np.testing.assert_array_equal(a.heatmap, b.heatmap)


def test_predict_before_fit_raises() -> None:
    with pytest.raises(RuntimeError):
        AnomalyDetector().predict([np.zeros((32, 32, 3), np.uint8)])


def test_fit_rejects_bad_input(train_set: Data) -> None:
    images, labels, _ = train_set
    with pytest.raises(ValueError):
        AnomalyDetector(weights="random", image_size=64).fit(images, labels[:-1])
    with pytest.raises(ValueError):
        AnomalyDetector(weights="random", image_size=64).fit(images[-3:], [1, 1, 1])


def test_normal_only_training_and_grayscale_input(train_set: Data, unseen_test_set: Data) -> None:
    images, labels, _ = train_set
    normals = [image for image, label in zip(images, labels, strict=True) if label == 0]
    detector = AnomalyDetector(image_size=96, weights="random").fit(normals, [0] * len(normals))
    test_images, test_labels, _ = unseen_test_set
    scores = detector.score_samples(test_images)
    assert auroc(scores, np.array(test_labels)) >= 0.85
    # the held-out normal scores sit below the threshold learned without any anomaly
    assert np.mean(detector.oof_scores_ < 0.5) >= 0.9
    gray = [image.mean(axis=2).astype(np.uint8) for image in test_images[:2]]
    assert len(detector.predict(gray)) == 2
