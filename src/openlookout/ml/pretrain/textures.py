"""Procedural texture categories: value-noise fields, gratings, checks, ridges, spots and grids.

Each category is a fixed recipe (family, base frequency, orientation, roughness, threshold) drawn
deterministically from a seed; every image of a category varies its phase, noise and palette, so a
category is told apart by its structure, not its colour. Everything is batched torch on the CPU or
the GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

FAMILIES = ("fbm", "grating", "checks", "ridges", "spots", "grid", "warped_grating", "cells")


@dataclass(frozen=True)
class TextureRecipes:
    """Per-category parameters, each a tensor of shape ``(n_categories,)``."""

    family: Tensor
    freq: Tensor
    angle: Tensor
    rough: Tensor
    threshold: Tensor


def make_recipes(n_categories: int, seed: int) -> TextureRecipes:
    """Deterministic texture categories, cycling through the families."""
    rng = np.random.default_rng(seed)
    family = np.arange(n_categories) % len(FAMILIES)
    return TextureRecipes(
        family=torch.from_numpy(family.astype(np.int64)),
        freq=torch.from_numpy(
            np.exp(rng.uniform(math.log(2.0), math.log(14.0), n_categories)).astype(np.float32)
        ),
        angle=torch.from_numpy(rng.uniform(0.0, math.pi, n_categories).astype(np.float32)),
        rough=torch.from_numpy(rng.uniform(0.3, 0.8, n_categories).astype(np.float32)),
        threshold=torch.from_numpy(rng.uniform(0.25, 0.75, n_categories).astype(np.float32)),
    )


def value_noise(n: int, size: int, freq: Tensor, generator: torch.Generator) -> Tensor:
    """Smooth random fields ``(n, 1, size, size)`` in about [0, 1] with per-image grid frequency."""
    out = torch.empty(n, 1, size, size)
    cells = freq.clamp(1.0, size / 2).round().long()
    for value in cells.unique().tolist():
        rows = (cells == value).nonzero().flatten()
        grid = torch.rand(len(rows), 1, value + 1, value + 1, generator=generator)
        out[rows] = F.interpolate(grid, size=(size, size), mode="bicubic", align_corners=True)
    return out


def fbm(
    n: int, size: int, freq: Tensor, rough: Tensor, generator: torch.Generator, octaves: int = 4
) -> Tensor:
    """Fractal Brownian motion: octaves of value noise, each twice as fine and ``rough`` times as strong."""
    total = torch.zeros(n, 1, size, size)
    weight = torch.ones(n, 1, 1, 1)
    norm = torch.zeros(n, 1, 1, 1)
    for octave in range(octaves):
        total += weight * value_noise(n, size, freq * 2**octave, generator)
        norm += weight
        weight = weight * rough.reshape(n, 1, 1, 1)
    return total / norm


def _coords(n: int, size: int, angle: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    lin = torch.linspace(0.0, 1.0, size)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    jitter = angle + (torch.rand(n, generator=generator) - 0.5) * 0.3
    c, s = torch.cos(jitter).reshape(n, 1, 1, 1), torch.sin(jitter).reshape(n, 1, 1, 1)
    u = c * xx + s * yy
    v = -s * xx + c * yy
    shift = torch.rand(n, 2, 1, 1, 1, generator=generator)
    return u + shift[:, 0], v + shift[:, 1]


def render_textures(recipes: TextureRecipes, labels: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """Render texture images ``(n, 3, size, size)`` in [0, 1] for category ``labels``."""
    n = labels.shape[0]
    fam = recipes.family[labels]
    freq = recipes.freq[labels] * (0.85 + 0.3 * torch.rand(n, generator=generator))
    rough = recipes.rough[labels]
    thr = recipes.threshold[labels].reshape(n, 1, 1, 1)
    u, v = _coords(n, size, recipes.angle[labels], generator)
    f4 = freq.reshape(n, 1, 1, 1)
    noise = fbm(n, size, freq, rough, generator)
    fine = fbm(n, size, freq * 2, rough, generator)
    tau = 2 * math.pi
    options = {
        "fbm": noise,
        "grating": 0.5 + 0.5 * torch.sin(tau * f4 * u + 2.0 * rough.reshape(n, 1, 1, 1) * fine),
        "checks": 0.5 + 0.5 * torch.tanh(4 * torch.sin(tau * f4 * u) * torch.sin(tau * f4 * v)),
        "ridges": 1.0 - (2 * noise - 1).abs() * 2,
        "spots": torch.sigmoid((fine - thr) * 25),
        "grid": torch.maximum(
            torch.sigmoid((torch.cos(tau * f4 * u) - 0.85) * 30),
            torch.sigmoid((torch.cos(tau * f4 * v) - 0.85) * 30),
        ),
        "warped_grating": 0.5 + 0.5 * torch.sin(tau * f4 * (u + 0.6 * noise / f4.clamp_min(1) * 4)),
        "cells": torch.sigmoid(
            (torch.sin(tau * f4 * (u + 0.15 * noise)) * torch.sin(tau * f4 * (v + 0.15 * fine)) - 0.2) * 12
        ),
    }
    field = torch.zeros(n, 1, size, size)
    for index, name in enumerate(FAMILIES):
        chosen = fam == index
        if chosen.any():
            field[chosen] = options[name][chosen]
    field = field.clamp(0, 1)
    low = torch.rand(n, 3, 1, 1, generator=generator)
    high = torch.rand(n, 3, 1, 1, generator=generator)
    return low + (high - low) * field
