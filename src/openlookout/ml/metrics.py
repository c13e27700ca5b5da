"""Evaluation in Lookout for Vision's terms, plus ranking metrics for our own tracking (numpy).

Image level: precision, recall and F1 of the *anomalous* class at the model's learned threshold
(``Prediction.is_anomalous``), image AUROC and average precision of ``Prediction.score``.
Segmentation (when ground-truth masks are given): pixel AUROC of the heatmap; per anomaly label,
image-level precision/recall/F1 of "the label is present" (a label is predicted present when the
type mask has any pixel of it) and the mean IoU of that label's pixels over the test images that
contain it in the ground truth or the prediction. Ground-truth masks are resized (nearest) to the
prediction's resolution. Per-image results list truth, prediction, score and confidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from openlookout.ml.calibration import auroc, average_precision
from openlookout.ml.imageio import resize_mask
from openlookout.ml.types import Prediction


@dataclass
class LabelMetrics:
    label: str
    precision: float
    recall: float
    f1: float
    mean_iou: float
    support: int


@dataclass
class EvaluationReport:
    precision: float
    recall: float
    f1: float
    accuracy: float
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    image_auroc: float
    average_precision: float
    pixel_auroc: float | None = None
    labels: list[LabelMetrics] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate(
    predictions: list[Prediction],
    labels: list[int] | np.ndarray,
    masks: list[np.ndarray | None] | None = None,
    anomaly_types: list[str] | None = None,
) -> EvaluationReport:
    """Score ``predictions`` against 0/1 ``labels`` and optional type-index ``masks``."""
    truth = np.asarray(labels).astype(bool)
    if len(predictions) != truth.size:
        raise ValueError("need one label per prediction")
    flags = np.array([p.is_anomalous for p in predictions], dtype=bool)
    scores = np.array([p.score for p in predictions], dtype=np.float64)
    tp = int((flags & truth).sum())
    fp = int((flags & ~truth).sum())
    fn = int((~flags & truth).sum())
    tn = int((~flags & ~truth).sum())
    precision, recall, f1 = _prf(tp, fp, fn)
    report = EvaluationReport(
        precision=precision,
        recall=recall,
        f1=f1,
        accuracy=(tp + tn) / max(1, truth.size),
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        true_negatives=tn,
        image_auroc=auroc(scores, truth),
        average_precision=average_precision(scores, truth),
    )
    for i, p in enumerate(predictions):
        report.images.append(
            {
                "index": i,
                "label": int(truth[i]),
                "is_anomalous": bool(p.is_anomalous),
                "correct": bool(p.is_anomalous == truth[i]),
                "score": float(p.score),
                "confidence": float(p.confidence),
            }
        )
    if masks is None or not any(m is not None for m in masks):
        return report

    # ground truth per image at prediction resolution; normal images without a mask are all 0
    gts: list[np.ndarray | None] = []
    for i, p in enumerate(predictions):
        mask = masks[i] if i < len(masks) else None
        if mask is None:
            gts.append(np.zeros(p.heatmap.shape, dtype=np.int64) if not truth[i] else None)
        else:
            gts.append(resize_mask(np.asarray(mask), p.heatmap.shape))
    pix_scores = [p.heatmap.ravel() for p, g in zip(predictions, gts, strict=True) if g is not None]
    pix_truth = [(g > 0).ravel() for g in gts if g is not None]
    if pix_scores:
        report.pixel_auroc = auroc(np.concatenate(pix_scores), np.concatenate(pix_truth))

    n_types = max([int(g.max()) for g in gts if g is not None] + [len(anomaly_types or [])])
    names = list(anomaly_types or []) + [
        f"type_{k}" for k in range(len(anomaly_types or []) + 1, n_types + 1)
    ]
    for k in range(1, n_types + 1):
        ltp = lfp = lfn = 0
        ious: list[float] = []
        for i, p in enumerate(predictions):
            g = gts[i]
            if g is None:
                continue
            predicted = p.type_mask == k if p.type_mask is not None else np.zeros(g.shape, dtype=bool)
            actual = g == k
            has_pred, has_true = bool(predicted.any()), bool(actual.any())
            ltp += int(has_pred and has_true)
            lfp += int(has_pred and not has_true)
            lfn += int(has_true and not has_pred)
            if has_pred or has_true:
                union = float((predicted | actual).sum())
                ious.append(float((predicted & actual).sum()) / union)
            report.images[i].setdefault("iou", {})[names[k - 1]] = (
                ious[-1] if (has_pred or has_true) else None
            )
        lp, lr, lf = _prf(ltp, lfp, lfn)
        report.labels.append(
            LabelMetrics(names[k - 1], lp, lr, lf, float(np.mean(ious)) if ious else 0.0, ltp + lfn)
        )
    return report
