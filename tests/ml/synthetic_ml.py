"""Deterministic synthetic part images with typed defects and masks, for the ML tests.

A "part" is a textured background with a fixed object (a rectangle with a hole, a disc) that
jitters by a few pixels. Defect kinds: ``spot`` (a coloured disc), ``scratch`` (a thin dark line),
``missing`` (part of the object painted with background). Masks carry the defect kind's index in
the ``kinds`` list given by the caller (1-based; 0 = background).
"""

from __future__ import annotations

import numpy as np

KINDS = ("spot", "scratch", "missing")


def part_image(rng: np.random.Generator, height: int = 64, width: int = 96) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3), dtype=np.float64)
    image[...] = (90, 110, 95)
    image += 6 * np.sin(xs / 3.0)[..., None] + rng.normal(0, 4, (height, width, 3))
    dy, dx = rng.integers(-2, 3, size=2)
    top, left = height // 4 + dy, width // 5 + dx
    image[top : top + height // 2, left : left + width // 3] = (200, 190, 60)
    image[top + 8 : top + 14, left + 8 : left + 14] = (40, 40, 40)
    cy, cx = height // 2 + dy, int(width * 0.72) + dx
    disc = (ys - cy) ** 2 + (xs - cx) ** 2 < (height // 6) ** 2
    image[disc] = (60, 90, 200)
    return np.clip(image, 0, 255).astype(np.uint8)


def add_defect(image: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    height, width = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width]
    out = image.astype(np.float64).copy()
    if kind == "spot":
        cy, cx = rng.integers(10, height - 10), rng.integers(10, width - 10)
        mask = (ys - cy) ** 2 + (xs - cx) ** 2 < rng.integers(9, 26)
        out[mask] = (230, 40, 160)
    elif kind == "scratch":
        y0, x0 = rng.integers(8, height - 8), rng.integers(8, width // 2)
        length = rng.integers(width // 4, width // 2)
        slope = rng.uniform(-0.4, 0.4)
        mask = (xs >= x0) & (xs < x0 + length) & (np.abs(ys - (y0 + slope * (xs - x0))) < 1.2)
        out[mask] = (15, 15, 15)
    elif kind == "missing":
        top, left = height // 4, width // 5
        mask = np.zeros((height, width), dtype=bool)
        mask[top : top + height // 4, left : left + width // 6] = True
        out[mask] = (90, 110, 95)
    else:
        raise ValueError(kind)
    return np.clip(out, 0, 255).astype(np.uint8), mask


def make_set(
    seed: int,
    n_normal: int,
    defects: dict[str, int],
    kinds: tuple[str, ...] = KINDS,
    height: int = 64,
    width: int = 96,
) -> tuple[list[np.ndarray], list[int], list[np.ndarray | None]]:
    """Images, labels and masks (``None`` for normal images); masks use ``kinds`` indices."""
    rng = np.random.default_rng(seed)
    images: list[np.ndarray] = []
    labels: list[int] = []
    masks: list[np.ndarray | None] = []
    for _ in range(n_normal):
        images.append(part_image(rng, height, width))
        labels.append(0)
        masks.append(None)
    for kind, count in defects.items():
        for _ in range(count):
            image, mask = add_defect(part_image(rng, height, width), kind, rng)
            images.append(image)
            labels.append(1)
            masks.append(mask.astype(np.int64) * (kinds.index(kind) + 1))
    return images, labels, masks
