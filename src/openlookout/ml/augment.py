"""Training-time augmentation of images and their masks (numpy + Pillow, deterministic per rng).

Flips and turns are only used where the project's own normal images show them to be harmless:
:func:`harmless_transforms` scores transformed normal images with the kNN normality model and
keeps a transform when its images look as normal as untransformed held-out ones (a mirrored
circuit board does not; a mirrored texture or a freely rotated screw does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

TRANSFORMS = ("hflip", "vflip", "rot180", "rot90")


def transform(array: np.ndarray, name: str) -> np.ndarray:
    """Apply one of ``TRANSFORMS`` (or ``"identity"``) to an HxW or HxWxC array."""
    if name == "identity":
        return array
    if name == "hflip":
        return array[:, ::-1]
    if name == "vflip":
        return array[::-1]
    if name == "rot180":
        return array[::-1, ::-1]
    if name == "rot90":
        return np.rot90(array)
    raise ValueError(f"unknown transform {name!r}")


def candidate_transforms(height: int, width: int) -> list[str]:
    """Transforms that keep the working size (quarter turns only for square images)."""
    return [t for t in TRANSFORMS if t != "rot90" or height == width]


def harmless_transforms(
    score: Callable[[list[np.ndarray]], np.ndarray],
    held_out: Sequence[np.ndarray],
    tolerance: float = 1.0,
) -> list[str]:
    """Transforms whose images score like the held-out normals they come from.

    ``score`` gives kNN image scores against a bank built from *other* normal images; a
    transform is harmless when the mean score of the transformed images exceeds the mean of
    the untransformed ones by less than ``tolerance`` standard deviations of the latter.
    """
    if len(held_out) < 2:
        return []
    base = score(list(held_out))
    spread = max(float(base.std()), 1e-6)
    height, width = held_out[0].shape[:2]
    kept = []
    for name in candidate_transforms(height, width):
        moved = score([np.ascontiguousarray(transform(image, name)) for image in held_out])
        if float(moved.mean() - base.mean()) < tolerance * spread:
            kept.append(name)
    return kept


def random_crop(
    image: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator, min_scale: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Crop a random window of ``min_scale``..1 of each side and resize it back."""
    height, width = image.shape[:2]
    scale = rng.uniform(min_scale, 1.0)
    ch, cw = max(8, int(height * scale)), max(8, int(width * scale))
    top, left = int(rng.integers(0, height - ch + 1)), int(rng.integers(0, width - cw + 1))
    crop = Image.fromarray(np.ascontiguousarray(image[top : top + ch, left : left + cw]))
    out = np.asarray(crop.resize((width, height), Image.Resampling.BILINEAR))
    if mask is None:
        return out, None
    part = Image.fromarray(np.ascontiguousarray(mask[top : top + ch, left : left + cw]).astype(np.int32))
    return out, np.asarray(part.resize((width, height), Image.Resampling.NEAREST)).astype(np.int64)


def colour_jitter(image: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Small brightness and contrast changes, the same for all channels."""
    gain = rng.uniform(1 - amount, 1 + amount)
    shift = rng.uniform(-amount, amount) * 255.0
    mean = image.mean()
    out = (image.astype(np.float32) - mean) * gain + mean + shift
    return np.clip(out, 0, 255).astype(np.uint8)


def augment(
    image: np.ndarray,
    mask: np.ndarray | None,
    rng: np.random.Generator,
    transforms: Sequence[str],
    min_crop: float = 0.85,
    jitter: float = 0.08,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One random augmentation of an image and its mask."""
    name = str(rng.choice(["identity", *transforms]))
    image = np.ascontiguousarray(transform(image, name))
    mask = None if mask is None else np.ascontiguousarray(transform(mask, name))
    if min_crop < 1.0 and rng.random() < 0.5:
        image, mask = random_crop(image, mask, rng, min_crop)
    return colour_jitter(image, rng, jitter), mask
