"""Deterministic batches of formula-driven training images.

Each image is a procedural texture (texture category label) with an IFS fractal drawn over it
(fractal category label), sometimes a small synthetic mark (mask label), then colour, blur and
noise augmentation. Batch ``k`` of seed ``s`` is always the same pixels, so training can resume
mid-run without storing any data and a test can regenerate images exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from openlookout.ml.backbone import IMAGENET_MEAN, IMAGENET_STD
from openlookout.ml.pretrain.ifs import MAX_MAPS, jitter_maps, render_ifs, search_categories
from openlookout.ml.pretrain.marks import add_marks
from openlookout.ml.pretrain.textures import make_recipes, render_textures

MASK_STRIDE = 8


@dataclass(frozen=True)
class Batch:
    """Normalised images ``(n, 3, s, s)``, labels ``(n,)`` and mark masks ``(n, 1, s/8, s/8)``."""

    images: Tensor
    fractal: Tensor
    texture: Tensor
    marks: Tensor


class FormulaImages:
    """Generator of formula-driven images; ``batch(index)`` is a pure function of the seed and index."""

    def __init__(self, n_fractal: int = 256, n_texture: int = 64, size: int = 64, seed: int = 0) -> None:
        self.n_fractal = n_fractal
        self.n_texture = n_texture
        self.size = size
        self.seed = seed
        self.categories = torch.from_numpy(search_categories(n_fractal, seed))
        self.recipes = make_recipes(n_texture, seed + 1)

    def _generator(self, index: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + index * 7_919 + 17)

    def raw(self, index: int, n: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Un-normalised images in [0, 1] with labels and full-resolution masks."""
        g = self._generator(index)
        size = self.size
        fractal = torch.randint(0, self.n_fractal, (n,), generator=g)
        texture = torch.randint(0, self.n_texture, (n,), generator=g)
        background = render_textures(self.recipes, texture, size, g)
        maps = jitter_maps(self.categories[fractal], g)
        colours = torch.rand(n, MAX_MAPS, 3, generator=g)
        rgb, alpha = render_ifs(maps, colours, size, g)
        opacity = (0.7 + 0.3 * torch.rand(n, 1, 1, 1, generator=g)) * alpha
        images = background * (1 - opacity) + rgb * opacity
        flip = torch.rand(n, 2, generator=g) < 0.5
        images = torch.where(flip[:, 0].reshape(n, 1, 1, 1), images.flip(-1), images)
        images = torch.where(flip[:, 1].reshape(n, 1, 1, 1), images.flip(-2), images)
        images, masks = add_marks(images, g)
        images = self._augment(images, g)
        return images, fractal, texture, masks

    def _augment(self, images: Tensor, g: torch.Generator) -> Tensor:
        n = images.shape[0]
        grey = (torch.rand(n, 1, 1, 1, generator=g) < 0.2).float()
        images = grey * images.mean(1, keepdim=True).expand_as(images) + (1 - grey) * images
        contrast = 0.6 + 0.8 * torch.rand(n, 1, 1, 1, generator=g)
        brightness = (torch.rand(n, 1, 1, 1, generator=g) - 0.5) * 0.4
        mean = images.mean((1, 2, 3), keepdim=True)
        images = (images - mean) * contrast + mean + brightness
        blur = torch.rand(n, 1, 1, 1, generator=g) < 0.3
        smoothed = F.avg_pool2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), 3, 1)
        images = torch.where(blur, smoothed, images)
        sigma = 0.04 * torch.rand(n, 1, 1, 1, generator=g)
        images = images + sigma * torch.randn(images.shape, generator=g)
        return images.clamp(0, 1)

    def batch(self, index: int, n: int) -> Batch:
        """Batch ``index`` of ``n`` images, normalised with ImageNet statistics like real inputs."""
        images, fractal, texture, masks = self.raw(index, n)
        mean = torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1)
        coarse = F.max_pool2d(masks, MASK_STRIDE)
        return Batch((images - mean) / std, fractal, texture, coarse)
