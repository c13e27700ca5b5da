"""The decision layer: fusion weight, calibration, the base-rate threshold rule, cross-fitting."""

from __future__ import annotations

import numpy as np
import pytest

from openlookout.ml.calibration import f1_optimal_threshold
from openlookout.ml.fusion import (
    BASE_RATES,
    MAX_NET_WEIGHT,
    crossfit,
    fit_decision,
    folds_for,
    line_f1,
    line_threshold,
)


def test_line_f1_matches_counting() -> None:
    # 1000 images at a 10 % base rate, TPR 0.8, FPR 0.05: 80 TP, 45 FP, 20 FN
    assert line_f1(0.8, 0.05, 0.1) == pytest.approx(2 * 80 / (2 * 80 + 45 + 20))
    assert line_f1(0.0, 0.0, 0.1) == 0.0


def test_line_threshold_is_stricter_than_balanced_f1_when_classes_overlap() -> None:
    rng = np.random.default_rng(0)
    normals = rng.normal(0.0, 1.0, 400)
    anomalies = rng.normal(2.0, 1.0, 400)
    scores = np.concatenate([normals, anomalies])
    labels = np.r_[np.zeros(400), np.ones(400)]
    balanced, _ = f1_optimal_threshold(scores, labels)
    line = line_threshold(scores, labels)
    assert line > balanced + 0.3

    # the chosen threshold is (close to) the best mean F1 over the base rates on a fine grid
    def mean_f1(t: float) -> float:
        tpr, fpr = float((anomalies >= t).mean()), float((normals >= t).mean())
        return float(np.mean([line_f1(tpr, fpr, r) for r in BASE_RATES]))

    grid = np.linspace(-1, 4, 501)
    assert mean_f1(line) >= max(mean_f1(t) for t in grid) - 1e-3


def test_decision_prefers_the_informative_score_but_keeps_the_other() -> None:
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(30), np.ones(30)].astype(int)
    net = rng.normal(0, 1, 60) + 4.0 * labels  # separates well
    knn = rng.normal(0, 1, 60)  # noise
    decision = fit_decision(net, knn, labels)
    assert decision.net_weight == MAX_NET_WEIGHT  # capped: the normality score keeps a say
    flipped = fit_decision(knn, net, labels)
    assert flipped.net_weight <= 0.2
    probability = decision.probability(net, knn)
    assert ((probability >= 0.5) == labels.astype(bool)).mean() >= 0.9


def test_few_anomalies_keep_the_even_mix_and_none_put_the_threshold_above_normals() -> None:
    rng = np.random.default_rng(2)
    labels = np.r_[np.zeros(20), np.ones(2)].astype(int)
    net = rng.normal(0, 1, 22) + 5 * labels
    knn = rng.normal(0, 1, 22)
    assert fit_decision(net, knn, labels).net_weight == 0.5
    normal_only = fit_decision(net[:20], knn[:20], labels[:20])
    assert (normal_only.probability(net[:20], knn[:20]) < 0.5).all()
    with pytest.raises(ValueError):
        fit_decision(net[20:], knn[20:], labels[20:])


def test_crossfitted_decisions_never_see_their_own_image() -> None:
    rng = np.random.default_rng(3)
    labels = np.r_[np.zeros(12), np.ones(9)].astype(int)
    net = rng.normal(0, 1, 21) + 2 * labels
    knn = rng.normal(0, 1, 21) + labels
    folds = folds_for(labels, 3, seed=0)
    decisions = crossfit(net, knn, labels, folds)
    assert sorted(np.concatenate([members for _, members, _ in decisions]).tolist()) == list(range(21))
    for i in range(labels.size):
        changed = net.copy()
        changed[i] += 100.0  # an outrageous score for image i alone
        for (before, members, _), (after, _, _) in zip(
            decisions, crossfit(changed, knn, labels, folds), strict=True
        ):
            if i in members:
                assert after == before


def test_crossfit_with_one_normal_fits_on_everything() -> None:
    labels = np.array([0, 1, 1, 1])
    folds = folds_for(labels, 3, seed=0)
    ((decision, members, others),) = crossfit(np.arange(4.0), np.arange(4.0), labels, folds)
    assert members.tolist() == others.tolist() == [0, 1, 2, 3]
    assert isinstance(decision.net_weight, float)
