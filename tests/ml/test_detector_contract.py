"""The common check suite, run over every detector configuration in ``conftest.DETECTORS``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import DETECTORS, Data
from openlookout.ml.calibration import auroc
from openlookout.ml.detector import AnomalyDetector, Validation
from openlookout.ml.types import Prediction

NAMES = sorted(DETECTORS)


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_learns_trailing_underscore_state_and_is_deterministic(
    name: str, fitted: dict[str, AnomalyDetector], train_set: Data, unseen_test_set: Data
) -> None:
    images, labels, _ = train_set
    detector = AnomalyDetector(**DETECTORS[name])
    assert not [k for k in vars(detector) if k.endswith("_")], "no learned state before fit"
    assert detector.get_params() == {**AnomalyDetector().get_params(), **DETECTORS[name]}
    assert detector.fit(images, labels) is detector
    learned = {k for k in vars(detector) if k.endswith("_")}
    assert {
        "graph_",
        "threshold_",
        "scale_",
        "input_size_",
        "decision_",
        "validation_predictions_",
    } <= learned
    assert detector.get_params() == {**AnomalyDetector().get_params(), **DETECTORS[name]}
    assert detector.weights_source_ == f"imagenet-{detector.arch}"
    # the same data and seed give the same model as the session's fit, to the bit
    assert detector is not fitted[name]
    assert detector.threshold_ == fitted[name].threshold_
    first = fitted[name].predict(unseen_test_set[0][:4])
    second = detector.predict(unseen_test_set[0][:4])
    for a, b in zip(first, second, strict=True):
        assert a.score == b.score
        np.testing.assert_array_equal(a.heatmap, b.heatmap)


@pytest.mark.parametrize("name", NAMES)
def test_predictions_have_the_documented_shape(
    name: str, fitted: dict[str, AnomalyDetector], unseen_test_set: Data
) -> None:
    detector = fitted[name]
    predictions = detector.predict(unseen_test_set[0][:3])
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
def test_decision_is_learned_in_fit_and_travels_in_the_graph(
    name: str, fitted: dict[str, AnomalyDetector], unseen_test_set: Data
) -> None:
    detector = fitted[name]
    before = (detector.threshold_, detector.scale_, detector.pixel_threshold_)
    detector.predict(unseen_test_set[0])
    assert (detector.threshold_, detector.scale_, detector.pixel_threshold_) == before
    decision = detector.decision_
    assert 0.0 <= decision.net_weight <= 1.0
    assert float(detector.graph_.bias) == pytest.approx(decision.bias)
    assert float(detector.graph_.weights.sum()) == pytest.approx(decision.gain)
    # the held-out quarter of the 18 training images (3 normal + 2 anomalous) is the validation set
    assert len(detector.validation_predictions_) == 5


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
        AnomalyDetector(preset="fast", image_size=64).fit(images, labels[:-1])
    with pytest.raises(ValueError):
        AnomalyDetector(preset="fast", image_size=64).fit(images[-3:], [1, 1, 1])
    with pytest.raises(ValueError):
        AnomalyDetector(preset="fast", image_size=64).fit(images[:3], [0, 2, 1])


def test_validation_set_sets_the_decision_and_gets_crossfitted_predictions(
    train_set: Data, unseen_test_set: Data
) -> None:
    images, labels, _ = train_set
    val_images, val_labels, _ = unseen_test_set
    detector = AnomalyDetector(preset="fast", image_size=96).fit(
        images, labels, validation=Validation(val_images, val_labels)
    )
    assert len(detector.validation_predictions_) == len(val_images)
    honest = np.array([p.score for p in detector.validation_predictions_])
    final = detector.score_samples(val_images)
    # each validation image is scored by a decision fitted without it: not the final decision
    assert not np.allclose(honest, final)
    assert detector.validation_auroc_ == pytest.approx(auroc(honest, np.array(val_labels)))


def test_normal_only_training_and_grayscale_input(train_set: Data, unseen_test_set: Data) -> None:
    images, labels, _ = train_set
    normals = [image for image, label in zip(images, labels, strict=True) if label == 0]
    detector = AnomalyDetector(preset="fast", image_size=96).fit(normals, [0] * len(normals))
    test_images, test_labels, _ = unseen_test_set
    scores = detector.score_samples(test_images)
    assert auroc(scores, np.array(test_labels)) >= 0.85
    # with no anomaly anywhere the threshold sits above the normals
    normal_scores = scores[np.array(test_labels) == 0]
    assert np.mean(normal_scores < 0.5) >= 0.75
    gray = [image.mean(axis=2).astype(np.uint8) for image in test_images[:2]]
    assert len(detector.predict(gray)) == 2


def test_working_size_follows_the_images() -> None:
    detector = AnomalyDetector()
    board = detector.working_size_for(1334, 2000)
    strip = detector.working_size_for(512, 1280)
    small = detector.working_size_for(128, 128)
    for height, width in (board, strip, small):
        assert height % 32 == 0 and width % 32 == 0
        assert 0.7 * 320 * 320 <= height * width <= 1.3 * 320 * 320
    assert board[1] > board[0] and strip[1] > 2 * strip[0]
    assert AnomalyDetector(image_size=96).working_size_for(1334, 2000) == (64, 96)
