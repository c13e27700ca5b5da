"""Shared fixtures for the ML tests: small synthetic training and test sets, fitted detectors.

Every configuration in ``DETECTORS`` is fitted once per session (module-scoped cache) and run
through the common check suite in ``test_detector_contract.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from synthetic_ml import make_set

from openlookout.ml.detector import AnomalyDetector

torch.set_num_threads(int(os.environ.get("OPENLOOKOUT_TEST_THREADS", "2")))

# name -> detector parameters; every entry runs through the common check suite. Small images
# and the short "fast" fine-tuning keep the suite quick; both trunks load the packaged weights.
DETECTORS: dict[str, dict[str, Any]] = {
    "lite0": {"preset": "fast", "image_size": 96},
    "lite2": {"preset": "fast", "image_size": 96, "arch": "lite2"},
}

Data = tuple[list[np.ndarray], list[int], list[np.ndarray | None]]


@pytest.fixture(scope="session")
def train_set() -> Data:
    """12 normal parts and 6 with spots (the only defect type seen in training)."""
    return make_set(seed=1, n_normal=12, defects={"spot": 6})


@pytest.fixture(scope="session")
def unseen_test_set() -> Data:
    """8 normal parts and 8 with scratches or missing pieces: types never seen in training."""
    return make_set(seed=2, n_normal=8, defects={"scratch": 4, "missing": 4})


_CACHE: dict[str, AnomalyDetector] = {}


@pytest.fixture(scope="session")
def fitted(train_set: Data) -> dict[str, AnomalyDetector]:
    images, labels, _ = train_set
    for name, params in DETECTORS.items():
        if name not in _CACHE:
            _CACHE[name] = AnomalyDetector(**params).fit(images, labels)
    return _CACHE
