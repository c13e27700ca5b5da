"""Plain result types shared by the torch detector and the torch-free ONNX runner.

Only numpy is imported here so that hosting and edge code can use these types without torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Prediction:
    """One image's result, in Lookout for Vision's terms.

    ``score`` is the calibrated anomaly probability in [0, 1] (0.5 is the learned threshold);
    ``is_anomalous`` is ``score >= 0.5``; ``confidence`` is the confidence in the *predicted* class
    (``score`` when anomalous, ``1 - score`` when normal), as Lookout for Vision reports it.
    ``heatmap`` is float32 in [0, 1] at the model's working resolution (see
    :attr:`AnomalyDetector.input_size_`), on the same calibrated scale as ``score``.
    ``type_mask`` (segmentation models only) is an int32 array of the heatmap's shape: 0 for
    background, ``k`` for ``anomaly_types[k - 1]``.
    """

    score: float
    is_anomalous: bool
    confidence: float
    heatmap: np.ndarray
    type_mask: np.ndarray | None = None


def confidence_from_score(score: float) -> float:
    """Confidence in the predicted class for a calibrated anomaly probability."""
    return float(score) if score >= 0.5 else float(1.0 - score)
