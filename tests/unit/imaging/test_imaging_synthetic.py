"""The shared synthetic-image helpers produce what they promise (others' tests rely on them)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from tests.helpers.synthetic import defect_regions, image_array, jpeg_image, mask_png, png_image

from openlookout.imaging.images import inspect_image
from openlookout.imaging.masks import inspect_mask


def test_images_are_deterministic_and_seed_dependent() -> None:
    assert png_image(seed=3) == png_image(seed=3)
    assert jpeg_image(seed=3) == jpeg_image(seed=3)
    assert png_image(seed=3) != png_image(seed=4)
    assert png_image(seed=3) != png_image(seed=3, defect=True)


@pytest.mark.parametrize(("width", "height"), [(64, 64), (96, 64), (300, 120), (1024, 768)])
def test_images_are_valid_at_any_size(width: int, height: int) -> None:
    for data, fmt in ((png_image(width, height), "png"), (jpeg_image(width, height), "jpeg")):
        info = inspect_image(data, name="synthetic")
        assert (info.format, info.width, info.height) == (fmt, width, height)


def test_defects_are_drawn_where_defect_regions_says() -> None:
    clean = image_array(200, 160, seed=9).astype(int)
    broken = image_array(200, 160, seed=9, defect=True).astype(int)
    changed = np.abs(clean - broken).sum(axis=2) > 30
    inside = np.zeros_like(changed)
    for _, (x0, y0, x1, y1) in defect_regions(200, 160, seed=9):
        assert 0 <= x0 < x1 <= 200 and 0 <= y0 < y1 <= 160
        inside[y0:y1, x0:x1] = True
    assert changed.any()
    assert not (changed & ~inside).any()


def test_masks_match_their_regions() -> None:
    regions = [("#23A436", (1, 2, 11, 12)), ("#D62728", (20, 20, 30, 25))]
    for palette in (False, True):
        data = mask_png(96, 64, regions, palette=palette)
        image = Image.open(io.BytesIO(data))
        assert image.mode == ("P" if palette else "RGBA") and image.size == (96, 64)
        info = inspect_mask(
            data, name="m", colors={"#23A436": "crack", "#D62728": "chip"}, width=96, height=64
        )
        assert info.pixel_counts == {"crack": 100, "chip": 50}
