"""Synthetic anomalies: deterministic, non-empty masks, image changed only where it says."""

from __future__ import annotations

import numpy as np
from synthetic_ml import part_image

from openlookout.ml.synth import GENERATORS, synthesize


def test_generators_change_the_masked_region() -> None:
    image = part_image(np.random.default_rng(0))
    for generator in GENERATORS:
        out, mask = generator(image, np.random.default_rng(1))
        assert out.shape == image.shape and out.dtype == np.uint8
        assert mask.any()
        assert np.array_equal(out[~mask], image[~mask])


def test_synthesize_is_deterministic() -> None:
    image = part_image(np.random.default_rng(0))
    a, ma = synthesize(image, np.random.default_rng(7))
    b, mb = synthesize(image, np.random.default_rng(7))
    assert np.array_equal(a, b) and np.array_equal(ma, mb)
