"""Small synthetic marks (scratches, spots, cut-and-paste patches) with their pixel masks.

The pretraining network learns to say which feature-map cells hold a mark. That asks the mid-level
features, the ones a memory-bank anomaly detector compares, to notice small local departures from
the surrounding texture, the kind of cue a defect leaves.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _grid(size: int) -> tuple[Tensor, Tensor]:
    lin = torch.arange(size, dtype=torch.float32) + 0.5
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    return xx, yy


def scratches(n: int, size: int, generator: torch.Generator) -> Tensor:
    """Soft masks ``(n, 1, size, size)`` of thin line segments of random length and width."""
    xx, yy = _grid(size)
    start = torch.rand(n, 2, generator=generator) * size
    angle = torch.rand(n, generator=generator) * torch.pi
    length = size * (0.08 + 0.3 * torch.rand(n, generator=generator))
    direction = torch.stack((torch.cos(angle), torch.sin(angle)), 1)
    width = 0.5 + 1.2 * torch.rand(n, generator=generator)
    dx = xx - start[:, 0].reshape(n, 1, 1)
    dy = yy - start[:, 1].reshape(n, 1, 1)
    along = (dx * direction[:, 0].reshape(n, 1, 1) + dy * direction[:, 1].reshape(n, 1, 1)).clamp(
        torch.zeros(n, 1, 1), length.reshape(n, 1, 1)
    )
    px = dx - along * direction[:, 0].reshape(n, 1, 1)
    py = dy - along * direction[:, 1].reshape(n, 1, 1)
    dist = torch.sqrt(px**2 + py**2)
    return torch.sigmoid((width.reshape(n, 1, 1) - dist) * 3).unsqueeze(1)


def spots(n: int, size: int, generator: torch.Generator) -> Tensor:
    """Soft masks of small rotated ellipses."""
    xx, yy = _grid(size)
    centre = torch.rand(n, 2, 1, 1, generator=generator) * size
    radii = size * (0.02 + 0.08 * torch.rand(n, 2, 1, 1, generator=generator))
    angle = torch.rand(n, 1, 1, generator=generator) * torch.pi
    dx, dy = xx - centre[:, 0], yy - centre[:, 1]
    u = dx * torch.cos(angle) + dy * torch.sin(angle)
    v = -dx * torch.sin(angle) + dy * torch.cos(angle)
    r = torch.sqrt((u / radii[:, 0]) ** 2 + (v / radii[:, 1]) ** 2)
    return torch.sigmoid((1 - r) * 6).unsqueeze(1)


def cut_paste(images: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Copy a small rectangle of each image to another place in it (CutPaste); returns images and masks."""
    n, _, size, _ = images.shape
    out = images.clone()
    mask = torch.zeros(n, 1, size, size)
    hw = (size * (0.08 + 0.17 * torch.rand(n, 2, generator=generator))).long().clamp_min(2)
    src = (torch.rand(n, 2, generator=generator) * (size - hw)).long()
    dst = (torch.rand(n, 2, generator=generator) * (size - hw)).long()
    for i in range(n):
        h, w = int(hw[i, 0]), int(hw[i, 1])
        sy, sx, ty, tx = int(src[i, 0]), int(src[i, 1]), int(dst[i, 0]), int(dst[i, 1])
        out[i, :, ty : ty + h, tx : tx + w] = images[i, :, sy : sy + h, sx : sx + w]
        mask[i, :, ty : ty + h, tx : tx + w] = 1.0
    return out, mask


def add_marks(images: Tensor, generator: torch.Generator, rate: float = 0.6) -> tuple[Tensor, Tensor]:
    """Give about ``rate`` of the images one mark of a random kind; returns marked images and masks."""
    n, _, size, _ = images.shape
    kind = torch.randint(0, 3, (n,), generator=generator)
    active = torch.rand(n, generator=generator) < rate
    pasted, paste_mask = cut_paste(images, generator)
    soft = torch.where(
        (kind == 0).reshape(n, 1, 1, 1), scratches(n, size, generator), spots(n, size, generator)
    )
    colour = torch.rand(n, 3, 1, 1, generator=generator)
    painted = images * (1 - soft) + colour * soft
    marked = torch.where((kind == 2).reshape(n, 1, 1, 1), pasted, painted)
    mask = torch.where((kind == 2).reshape(n, 1, 1, 1), paste_mask, (soft > 0.5).float())
    keep = active.reshape(n, 1, 1, 1)
    return torch.where(keep, marked, images), torch.where(keep, mask, torch.zeros_like(mask))
