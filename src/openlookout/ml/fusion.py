"""How the two scores become one decision, learned from the project's validation images (numpy).

Two image scores come in: ``net`` (the fine-tuned defect network's image logit) and ``knn``
(the kNN normality model's maximum patch distance). Each is standardised by the validation
normals; the fused score is ``w * net + (1 - w) * knn``; a one-dimensional logistic fit turns it
into a probability; the threshold is then chosen for F1 *across the base rates of a real line*
(5-40 % anomalies in steps of 5, :data:`BASE_RATES`), not for the validation set's own balance,
which is what makes a threshold chosen on a balanced set fail on a line where anomalies are rare.

``w`` comes from the validation set by likelihood, pulled towards an even mix, and capped so the
normality score always keeps a say (defect kinds the labelled images never showed). With fewer
than :data:`MIN_ANOMALIES` validation anomalies, ``w`` stays at the even mix; with none, the
threshold sits above the validation normals.

:func:`crossfit` gives every validation image a score from a decision fitted *without* it, so
the metrics the service reports on its test dataset are honest although that dataset helped set
the decision.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from openlookout.ml.calibration import normal_only_threshold

BASE_RATES = tuple(float(r) for r in np.round(np.linspace(0.05, 0.40, 8), 2))  # 5 %, 10 %, ... 40 %
MIN_ANOMALIES = 3
WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)
MAX_NET_WEIGHT = 0.85
PRIOR_WEIGHT = 0.5
PRIOR_STRENGTH = 0.02


@dataclass(frozen=True)
class Decision:
    """``score = sigmoid(gain * (w * zn + (1 - w) * zk) + bias)``, ``z* = (s - mean) / sd``."""

    net_mean: float
    net_sd: float
    knn_mean: float
    knn_sd: float
    net_weight: float
    gain: float
    bias: float

    def fused(self, net: np.ndarray, knn: np.ndarray) -> np.ndarray:
        zn = (np.asarray(net, np.float64) - self.net_mean) / self.net_sd
        zk = (np.asarray(knn, np.float64) - self.knn_mean) / self.knn_sd
        return self.net_weight * zn + (1.0 - self.net_weight) * zk

    def probability(self, net: np.ndarray, knn: np.ndarray) -> np.ndarray:
        return sigmoid(self.gain * self.fused(net, knn) + self.bias)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -60, 60)))


def _spread(values: np.ndarray) -> float:
    if values.size < 2:
        return 1.0
    return max(float(values.std()), 1e-3 * max(1.0, float(np.abs(values).mean())), 1e-6)


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = 1e-2) -> tuple[float, float, float]:
    """1-D logistic regression by Newton steps: (slope, intercept, mean log-loss)."""
    slope, intercept = 1.0, 0.0
    for _ in range(50):
        p = sigmoid(slope * x + intercept)
        g_s = float(np.mean((p - y) * x)) + ridge * slope
        g_i = float(np.mean(p - y))
        weight = p * (1 - p)
        h_ss = float(np.mean(weight * x * x)) + ridge
        h_si = float(np.mean(weight * x))
        h_ii = float(np.mean(weight)) + 1e-9
        det = h_ss * h_ii - h_si * h_si
        if det <= 1e-12:
            break
        step_s = (h_ii * g_s - h_si * g_i) / det
        step_i = (h_ss * g_i - h_si * g_s) / det
        slope, intercept = slope - step_s, intercept - step_i
        if abs(step_s) + abs(step_i) < 1e-8:
            break
    p = np.clip(sigmoid(slope * x + intercept), 1e-9, 1 - 1e-9)
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return max(slope, 1e-3), intercept, loss


def line_f1(tpr: float, fpr: float, rate: float) -> float:
    """Expected F1 at an anomaly base rate ``rate`` for a detector with these TPR and FPR."""
    if tpr <= 0.0:
        return 0.0
    precision = rate * tpr / (rate * tpr + (1 - rate) * fpr)
    return 2 * precision * tpr / (precision + tpr)


def line_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold maximising mean F1 over :data:`BASE_RATES` (middle of the best plateau)."""
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels).astype(bool)
    values = np.unique(scores)
    candidates = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2.0, [values[-1] + 1.0]])
    n_pos, n_neg = max(1, int(labels.sum())), max(1, int((~labels).sum()))
    gains = []
    for threshold in candidates:
        flagged = scores >= threshold
        tpr = float((flagged & labels).sum()) / n_pos
        fpr = float((flagged & ~labels).sum()) / n_neg
        gains.append(float(np.mean([line_f1(tpr, fpr, rate) for rate in BASE_RATES])))
    best = max(gains)
    plateau = [c for c, g in zip(candidates, gains, strict=True) if g >= best - 1e-9]
    return float(plateau[len(plateau) // 2])


def fit_decision(
    net: np.ndarray, knn: np.ndarray, labels: np.ndarray, net_weight: float | None = None
) -> Decision:
    """Learn the fusion, calibration and threshold from validation scores and 0/1 labels.

    ``net_weight`` fixes ``w`` (1.0: the defect network alone, 0.0: the kNN model alone).
    """
    net, knn = np.asarray(net, np.float64), np.asarray(knn, np.float64)
    labels = np.asarray(labels).astype(bool)
    normal = ~labels
    if not normal.any():
        raise ValueError("the validation images need at least one normal image")
    n_mean, k_mean = float(net[normal].mean()), float(knn[normal].mean())
    n_sd, k_sd = _spread(net[normal]), _spread(knn[normal])
    even = PRIOR_WEIGHT if net_weight is None else net_weight
    if labels.sum() == 0:
        fused = Decision(n_mean, n_sd, k_mean, k_sd, even, 1.0, 0.0).fused(net, knn)
        # above every validation normal, and at least three spreads above their mean: with few
        # normals the maximum alone is an optimistic guess of the line's tail
        threshold = max(normal_only_threshold(fused), float(fused.mean()) + 3.0 * _spread(fused))
        gain = 1.0 / _spread(fused)
        return Decision(n_mean, n_sd, k_mean, k_sd, even, gain, -gain * threshold)
    y = labels.astype(np.float64)
    if net_weight is not None or labels.sum() < MIN_ANOMALIES:
        weights = [even]
    else:
        weights = [float(w) for w in WEIGHT_GRID if w <= MAX_NET_WEIGHT]
    best: tuple[float, float, float, float] | None = None
    for w in weights:
        fused = Decision(n_mean, n_sd, k_mean, k_sd, float(w), 1.0, 0.0).fused(net, knn)
        slope, intercept, loss = fit_logistic(fused, y)
        loss += PRIOR_STRENGTH * (w - PRIOR_WEIGHT) ** 2
        if best is None or loss < best[0] - 1e-12:
            best = (loss, float(w), slope, intercept)
    assert best is not None
    _, w, slope, intercept = best
    chosen = Decision(n_mean, n_sd, k_mean, k_sd, w, slope, intercept)
    logit = slope * chosen.fused(net, knn) + intercept
    threshold = line_threshold(logit, labels)
    return Decision(n_mean, n_sd, k_mean, k_sd, w, slope, intercept - threshold)


def folds_for(labels: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Stratified fold index per image (fewer folds when there are fewer normal images)."""
    labels = np.asarray(labels).astype(int)
    n_folds = max(1, min(n_folds, int((labels == 0).sum())))
    rng = np.random.default_rng(seed)
    folds = np.zeros(labels.size, dtype=np.int64)
    for value in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == value))
        folds[members] = np.arange(members.size) % n_folds
    return folds


def crossfit(
    net: np.ndarray, knn: np.ndarray, labels: np.ndarray, folds: np.ndarray
) -> list[tuple[Decision, np.ndarray, np.ndarray]]:
    """Per fold: (decision fitted on the other folds, the fold's members, the other images).

    Scoring each fold with a decision fitted without it gives honest validation scores. With a
    single fold (too few normal images to split), the decision is fitted on all images and
    said to be so by ``others`` covering everything.
    """
    labels = np.asarray(labels).astype(bool)
    everything = np.arange(labels.size)
    out = []
    for fold in np.unique(folds):
        members = np.flatnonzero(folds == fold)
        others = np.flatnonzero(folds != fold)
        if not (~labels[others]).any():  # no normal image left to fit on
            return [(fit_decision(net, knn, labels), everything, everything)]
        out.append((fit_decision(net[others], knn[others], labels[others]), members, others))
    return out
