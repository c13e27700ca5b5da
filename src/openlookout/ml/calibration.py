"""Thresholds and score calibration learned from training data only (numpy).

The image threshold is chosen on out-of-fold scores of the training set (cross-validation inside
``fit``), never on test data: F1-optimal between held-out normals and held-out anomalies when
anomalies are available, otherwise a high quantile of held-out normal scores. The calibrated
score is ``sigmoid((raw - threshold) / scale)``, so 0.5 is the threshold; ``scale`` is fitted by
maximum likelihood (a one-parameter Platt fit with the centre fixed at the threshold).
"""

from __future__ import annotations

import numpy as np


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); NaN when one class is missing."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).astype(bool).ravel()
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mid_ranks = ends - (counts - 1) / 2.0
    rank_sum = float(mid_ranks[inverse][labels].sum())
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step-wise); NaN without positives."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).astype(bool).ravel()
    n_pos = int(labels.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_labels = scores[order], labels[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1]
    tp = np.cumsum(sorted_labels)[last_of_tie].astype(np.float64)
    predicted = last_of_tie + 1.0
    precision = tp / predicted
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def f1_optimal_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) maximising F1 of ``score >= threshold``; midpoint between neighbours.

    Ties in F1 are broken towards the threshold with the widest gap to its neighbours, which keeps
    the learned threshold away from the training scores.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    values = np.unique(scores)
    candidates = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2.0, [values[-1] + 1.0]])
    gaps = np.concatenate([[1.0], np.diff(values), [1.0]])
    best = (-1.0, -1.0, float(candidates[0]))
    for threshold, gap in zip(candidates, gaps, strict=True):
        predicted = scores >= threshold
        tp = float((predicted & labels).sum())
        fp = float((predicted & ~labels).sum())
        fn = float((~predicted & labels).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0
        if (f1, gap) > best[:2]:
            best = (f1, float(gap), float(threshold))
    return best[2], best[0]


def normal_only_threshold(normal_scores: np.ndarray) -> float:
    """A threshold above nearly all held-out normal scores (max, plus half a standard deviation)."""
    normal_scores = np.asarray(normal_scores, dtype=np.float64)
    spread = float(normal_scores.std()) if normal_scores.size > 1 else 1.0
    return float(normal_scores.max() + 0.5 * max(spread, 1e-6))


def fit_scale(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """Scale of ``sigmoid((s - threshold) / scale)`` maximising the likelihood of ``labels``."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(np.float64)
    spread = float(np.std(scores)) or 1.0
    if labels.min() == labels.max():
        return spread
    best_scale, best_loss = spread, np.inf
    for scale in spread * np.logspace(-2, 1, 61):
        z = (scores - threshold) / scale
        loss = float(np.mean(np.logaddexp(0.0, z) - labels * z))
        # a mild prior towards the data's spread keeps perfectly separated sets from collapsing
        loss += 0.01 * float(np.log(scale / spread) ** 2)
        if loss < best_loss:
            best_scale, best_loss = float(scale), loss
    return best_scale


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))
