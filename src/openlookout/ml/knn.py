"""The kNN normality model (PatchCore-style) on frozen pretrained patch features.

Patch features are the frozen trunk's ``low`` (stride 8) and ``mid`` (stride 16, upsampled)
levels, each averaged over a 3x3 neighbourhood, standardised and reduced by PCA (one affine map
fitted on normal patches). A k-centre-greedy coreset of normal patches is the memory bank; a
patch's anomaly score is its distance to the nearest bank row. Position-free: it suits textures,
loosely placed parts, and defect kinds no labelled image shows.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from openlookout.ml.trunks import Trunk

MAX_FIT_PATCHES = 60000


def patch_features(trunk: Trunk, low: Tensor) -> Tensor:
    """Frozen ``low`` + ``mid`` -> (N, C, h, w) patch descriptors on the stride-8 grid."""
    mid = trunk.mid(low)
    size = (low.shape[-2], low.shape[-1])
    mid = F.interpolate(mid, size=size, mode="bilinear", align_corners=False)
    return torch.cat(
        [
            F.avg_pool2d(low, 3, 1, 1, count_include_pad=False),
            F.avg_pool2d(mid, 3, 1, 1, count_include_pad=False),
        ],
        dim=1,
    )


def _flat(features: Tensor) -> Tensor:
    return features.permute(0, 2, 3, 1).reshape(-1, features.shape[1])


def _sample_rows(flat: Tensor, limit: int, generator: torch.Generator) -> Tensor:
    if flat.shape[0] <= limit:
        return flat
    return flat[torch.randperm(flat.shape[0], generator=generator)[:limit]]


class Moments:
    """Running mean and covariance of patch features, so the projection never needs them all at once."""

    def __init__(self, channels: int) -> None:
        self.count = 0
        self.total = torch.zeros(channels, dtype=torch.float64)
        self.outer = torch.zeros(channels, channels, dtype=torch.float64)

    def add(self, features: Tensor) -> None:
        flat = _flat(features).double()
        self.count += flat.shape[0]
        self.total += flat.sum(0)
        self.outer += flat.T @ flat

    def projection(self, dim: int) -> tuple[Tensor, Tensor]:
        """Standardise + PCA as one affine map: (weight (d, C), bias (d,))."""
        n = max(self.count, 2)
        mean = self.total / n
        cov = (self.outer / n - torch.outer(mean, mean)) * (n / (n - 1))
        std = torch.sqrt(torch.diagonal(cov).clamp_min(1e-12)).clamp_min(1e-6)
        corr = cov / torch.outer(std, std)
        _, vectors = torch.linalg.eigh(corr)
        dim = min(dim, mean.numel())
        weight = vectors[:, -dim:].flip(1).T / std
        return weight.float(), (-(weight @ mean)).float()


def project(features: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    return F.conv2d(features, weight[:, :, None, None], bias)


def coreset(z: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """k-centre greedy coreset of projected normal patches (N, d, h, w) -> (M, d)."""
    flat = _sample_rows(_flat(z), MAX_FIT_PATCHES, generator)
    if flat.shape[0] <= size:
        return flat.clone()
    sketch_dim = min(32, flat.shape[1])
    sketch = flat @ torch.randn(flat.shape[1], sketch_dim, generator=generator) / math.sqrt(sketch_dim)
    chosen = torch.empty(size, dtype=torch.long)
    chosen[0] = int(torch.randint(0, flat.shape[0], (1,), generator=generator))
    nearest = ((sketch - sketch[chosen[0]]) ** 2).sum(1)
    for i in range(1, size):
        index = int(torch.argmax(nearest))
        chosen[i] = index
        nearest = torch.minimum(nearest, ((sketch - sketch[index]) ** 2).sum(1))
    return flat[chosen].clone()


def distance_map(z: Tensor, bank: Tensor, bank_sq: Tensor) -> Tensor:
    """Distance of every cell of (N, d, h, w) to its nearest bank row -> (N, h, w)."""
    n, d, h, w = z.shape
    flat = z.permute(0, 2, 3, 1).reshape(n, h * w, d)
    sq = (flat * flat).sum(-1, keepdim=True)
    dist = sq - 2.0 * torch.matmul(flat, bank.T) + bank_sq
    return torch.sqrt(torch.clamp(dist.min(dim=-1).values, min=0.0)).reshape(n, h, w)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of (N, 1, h, w) maps, replicate padding (exports to ONNX)."""
    radius = max(1, math.ceil(2.5 * sigma))
    xs = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(xs**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    return F.conv2d(x, kernel.view(1, 1, -1, 1))
