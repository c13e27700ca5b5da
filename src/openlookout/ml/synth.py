"""Synthetic anomalies made from normal images (numpy only, deterministic with a generator).

Three families, chosen to cover defects no one labelled: *cut-paste* (a patch of the same image
moved, rotated and colour-shifted: misplaced or foreign structure), *scar* (a thin random-colour
stroke: scratches, cracks), and *blob* (a smooth random-shaped region whose colour and texture are
replaced: stains, missing material). Each returns the altered image and its binary mask.
"""

from __future__ import annotations

import numpy as np


def _smooth_blob(rng: np.random.Generator, height: int, width: int, radius: float) -> np.ndarray:
    """A random smooth blob mask around a random centre."""
    cy, cx = rng.uniform(0.15, 0.85) * height, rng.uniform(0.15, 0.85) * width
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = np.arctan2(ys - cy, xs - cx)
    wobble = np.ones_like(angle, dtype=np.float64)
    for k in (2, 3, 5):
        wobble += rng.uniform(-0.25, 0.25) * np.cos(k * angle + rng.uniform(0, 2 * np.pi))
    dist = np.hypot((ys - cy) / rng.uniform(0.5, 1.5), xs - cx)
    return dist < radius * wobble


def cut_paste(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    height, width = image.shape[:2]
    ph = int(rng.uniform(0.05, 0.2) * height) + 2
    pw = int(rng.uniform(0.05, 0.2) * width) + 2
    sy, sx = rng.integers(0, height - ph), rng.integers(0, width - pw)
    patch = image[sy : sy + ph, sx : sx + pw].astype(np.float32)
    patch = np.rot90(patch, k=int(rng.integers(1, 4)))
    patch = (patch * rng.uniform(0.7, 1.3, size=3) + rng.uniform(-30, 30, size=3)).astype(np.float32)
    ph, pw = patch.shape[:2]
    ph, pw = min(ph, height - 1), min(pw, width - 1)
    ty, tx = rng.integers(0, height - ph), rng.integers(0, width - pw)
    out = image.astype(np.float32).copy()
    out[ty : ty + ph, tx : tx + pw] = patch[:ph, :pw]
    mask = np.zeros((height, width), dtype=bool)
    mask[ty : ty + ph, tx : tx + pw] = True
    return np.clip(out, 0, 255).astype(np.uint8), mask


def scar(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    height, width = image.shape[:2]
    length = rng.uniform(0.1, 0.4) * max(height, width)
    thickness = max(1.0, rng.uniform(0.004, 0.015) * max(height, width))
    y0, x0 = rng.uniform(0.1, 0.9) * height, rng.uniform(0.1, 0.9) * width
    angle = rng.uniform(0, np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    along = (xs - x0) * np.cos(angle) + (ys - y0) * np.sin(angle)
    bend = rng.uniform(-1, 1) * 0.002 * along**2
    across = -(xs - x0) * np.sin(angle) + (ys - y0) * np.cos(angle) - bend
    mask = (np.abs(along) < length / 2) & (np.abs(across) < thickness)
    colour = rng.uniform(0, 255, size=3)
    out = image.astype(np.float32).copy()
    out[mask] = 0.25 * out[mask] + 0.75 * colour
    return np.clip(out, 0, 255).astype(np.uint8), mask


def blob(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    height, width = image.shape[:2]
    mask = _smooth_blob(rng, height, width, rng.uniform(0.03, 0.12) * max(height, width))
    out = image.astype(np.float32).copy()
    noise = rng.normal(0, rng.uniform(5, 40), size=(height, width, 1)).astype(np.float32)
    colour = rng.uniform(0, 255, size=3).astype(np.float32)
    mix = rng.uniform(0.4, 0.9)
    out[mask] = (1 - mix) * out[mask] + mix * colour + noise[mask]
    return np.clip(out, 0, 255).astype(np.uint8), mask


GENERATORS = (cut_paste, scar, blob)


def synthesize(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic anomaly of a randomly chosen family; guarantees a non-empty mask."""
    for _ in range(5):
        generator = GENERATORS[int(rng.integers(0, len(GENERATORS)))]
        out, mask = generator(image, rng)
        if mask.any():
            return out, mask
    return out, mask
