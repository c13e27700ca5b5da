"""Iterated function system (IFS) fractals: category search and batched rendering in torch.

A category is a set of 2 to 4 contractive affine maps ``(a, b, c, d, e, f)`` acting as
``x' = a x + b y + e``, ``y' = c x + d y + f``, each picked with probability proportional to its
determinant, as in FractalDB. Categories are found by a deterministic random search that keeps
attractors covering enough of the image (the "filling rate"). Rendering runs many chaos-game chains
in parallel for a whole batch, so it is fast on a CPU as well as a GPU.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

MAX_MAPS = 4


def _map_probabilities(maps: np.ndarray) -> np.ndarray:
    dets = np.abs(maps[:, 0] * maps[:, 3] - maps[:, 1] * maps[:, 2]) + 1e-3
    return dets / dets.sum()


def _filling_rate(maps: np.ndarray, rng: np.random.Generator, size: int = 32) -> float:
    """Fraction of a ``size`` x ``size`` grid that the attractor covers (0 for degenerate ones)."""
    probs = _map_probabilities(maps)
    pts = rng.uniform(-1.0, 1.0, size=(512, 2))
    collected = []
    for step in range(24):
        idx = rng.choice(len(maps), size=len(pts), p=probs)
        m = maps[idx]
        pts = np.stack(
            [
                m[:, 0] * pts[:, 0] + m[:, 1] * pts[:, 1] + m[:, 4],
                m[:, 2] * pts[:, 0] + m[:, 3] * pts[:, 1] + m[:, 5],
            ],
            axis=1,
        )
        if not np.all(np.isfinite(pts)) or np.abs(pts).max() > 1e4:
            return 0.0
        if step >= 8:
            collected.append(pts)
    allpts = np.concatenate(collected)
    lo, hi = allpts.min(0), allpts.max(0)
    extent = float((hi - lo).max())
    if extent < 1e-6:
        return 0.0
    cells = np.floor((allpts - lo) / extent * (size - 1e-6)).astype(int)
    occupied = np.zeros((size, size), dtype=bool)
    occupied[cells[:, 1], cells[:, 0]] = True
    return float(occupied.mean())


def search_categories(n_categories: int, seed: int, min_fill: float = 0.12) -> np.ndarray:
    """Deterministically find ``n_categories`` IFS categories; returns ``(n, MAX_MAPS, 6)``.

    Unused map slots are zero; their probability is zero (see :func:`category_probabilities`).
    """
    rng = np.random.default_rng(seed)
    found = np.zeros((n_categories, MAX_MAPS, 6), dtype=np.float32)
    count = 0
    while count < n_categories:
        n_maps = int(rng.integers(2, MAX_MAPS + 1))
        maps = rng.uniform(-1.0, 1.0, size=(n_maps, 6))
        singular = np.linalg.svd(maps[:, :4].reshape(n_maps, 2, 2), compute_uv=False)
        if singular[:, 0].max() >= 0.98:
            continue
        if _filling_rate(maps, rng) < min_fill:
            continue
        found[count, :n_maps] = maps
        count += 1
    return found


def category_probabilities(categories: Tensor) -> Tensor:
    """Per-map selection probabilities ``(n, MAX_MAPS)``: determinant-weighted, zero for empty slots."""
    a, b, c, d = categories[..., 0], categories[..., 1], categories[..., 2], categories[..., 3]
    used = categories.abs().sum(-1) > 0
    dets = torch.where(used, (a * d - b * c).abs() + 1e-3, torch.zeros_like(a))
    return dets / dets.sum(-1, keepdim=True)


def jitter_maps(maps: Tensor, generator: torch.Generator, strength: float = 0.2) -> Tensor:
    """FractalDB-style intra-category variation: scale one parameter of each image by 1 +- strength."""
    n = maps.shape[0]
    flat = maps.reshape(n, -1).clone()
    pick = torch.randint(0, MAX_MAPS * 6, (n,), generator=generator)
    factor = 1.0 + (torch.rand(n, generator=generator) * 2 - 1) * strength
    flat[torch.arange(n), pick] *= factor
    return flat.reshape(maps.shape)


def render_ifs(
    maps: Tensor,
    colors: Tensor,
    size: int,
    generator: torch.Generator,
    chains: int = 768,
    steps: int = 20,
    burn_in: int = 8,
) -> tuple[Tensor, Tensor]:
    """Render a batch of IFS attractors.

    ``maps`` is ``(n, MAX_MAPS, 6)``; ``colors`` is ``(n, MAX_MAPS, 3)`` in [0, 1], one colour per map
    (a point takes the colour of the last map applied). Returns ``(rgb, alpha)``: ``(n, 3, size, size)``
    colours and ``(n, 1, size, size)`` coverage in [0, 1]. The attractor is fitted into a box of random
    size and position inside the image.
    """
    n = maps.shape[0]
    probs = category_probabilities(maps)
    choice = torch.multinomial(probs, chains * steps, replacement=True, generator=generator)
    choice = choice.reshape(n, steps, chains)
    pts = torch.rand(n, chains, 2, generator=generator) * 2 - 1
    rows = torch.arange(n).unsqueeze(1)
    kept_pts: list[Tensor] = []
    kept_ids: list[Tensor] = []
    for step in range(steps):
        ids = choice[:, step]
        m = maps[rows, ids]
        x, y = pts[..., 0], pts[..., 1]
        pts = torch.stack(
            (m[..., 0] * x + m[..., 1] * y + m[..., 4], m[..., 2] * x + m[..., 3] * y + m[..., 5]), -1
        )
        if step >= burn_in:
            kept_pts.append(pts)
            kept_ids.append(ids)
    allpts = torch.cat(kept_pts, 1)
    allids = torch.cat(kept_ids, 1)
    allpts = torch.nan_to_num(allpts, nan=0.0, posinf=0.0, neginf=0.0).clamp(-1e3, 1e3)
    lo = allpts.amin(1, keepdim=True)
    hi = allpts.amax(1, keepdim=True)
    extent = (hi - lo).amax(-1, keepdim=True).clamp_min(1e-6)
    box = size * (0.55 + 0.4 * torch.rand(n, 1, 1, generator=generator))
    span = (hi - lo) / extent * box
    offset = torch.rand(n, 1, 2, generator=generator) * (size - span).clamp_min(0)
    pix = ((allpts - lo) / extent * box + offset).long().clamp(0, size - 1)
    flat = pix[..., 1] * size + pix[..., 0]
    index = flat + rows * size * size
    counts = torch.zeros(n * size * size).index_add_(0, index.reshape(-1), torch.ones(index.numel()))
    point_colors = colors[rows, allids]
    rgb_sum = torch.zeros(n * size * size, 3).index_add_(0, index.reshape(-1), point_colors.reshape(-1, 3))
    counts = counts.reshape(n, 1, size, size)
    rgb = (rgb_sum.reshape(n, size, size, 3).permute(0, 3, 1, 2) / counts.clamp_min(1.0)).clamp(0, 1)
    covered = (counts > 0).float().flatten(1).sum(1).clamp_min(1.0)
    mean_count = counts.flatten(1).sum(1) / covered
    gain = 1.0 + 3.0 * torch.rand(n, generator=generator)
    alpha = 1.0 - torch.exp(-counts * (gain / mean_count).reshape(n, 1, 1, 1))
    return rgb, alpha
