"""Normality models on patch features, and the single module that scores an image.

Three components produce per-cell anomaly maps from projected patch features ``z``:

- ``knn``: distance to the nearest patch in a coreset memory bank of normal patches
  (PatchCore-style; position-free, suits textures and loosely placed parts);
- ``gaussian``: Mahalanobis distance to the per-position mean under a pooled covariance
  (PaDiM-style; suits fixtured, aligned parts);
- ``head``: a multinomial logistic head trained on labelled defect cells (from masks), on the
  most anomalous cells of image-labelled anomalies, and on synthetic defects. Class 0 is normal,
  1..T are the named anomaly types, T+1 is "other anomaly".

:class:`ScoringGraph` holds everything after fitting (features, projection, bank, Gaussian,
head, normalisation, thresholds) and maps a 0..255 image tensor to
``(score, is_anomalous, heatmap, type_mask)``; the same module runs ``predict`` and is exported
to ONNX, so both paths compute the same thing.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from openlookout.ml.features import STRIDE, FeatureExtractor, gaussian_blur

COMPONENTS = ("knn", "gaussian", "head")


# ---------------------------------------------------------------------------- fitting helpers


def fit_projection(
    features: Tensor, dim: int, max_patches: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Standardise + PCA as one affine map: returns (weight (dim, C), bias (dim,))."""
    channels = features.shape[1]
    flat = features.permute(0, 2, 3, 1).reshape(-1, channels).double()
    if flat.shape[0] > max_patches:
        flat = flat[torch.randperm(flat.shape[0], generator=generator)[:max_patches]]
    mean = flat.mean(0)
    std = flat.std(0).clamp_min(1e-6)
    centred = (flat - mean) / std
    cov = centred.T @ centred / max(1, centred.shape[0] - 1)
    _, vectors = torch.linalg.eigh(cov)
    dim = min(dim, channels)
    components = vectors[:, -dim:].flip(1).T  # (dim, C), largest variance first
    weight = components / std
    bias = -(weight @ mean)
    return weight.float(), bias.float()


def project(features: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    return F.conv2d(features, weight[:, :, None, None], bias)


def fit_bank(z: Tensor, size: int, generator: torch.Generator, max_patches: int = 60000) -> Tensor:
    """k-centre greedy coreset of normal patch features (N, d, h, w) -> (M, d)."""
    flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
    if flat.shape[0] > max_patches:
        flat = flat[torch.randperm(flat.shape[0], generator=generator)[:max_patches]]
    if flat.shape[0] <= size:
        return flat.clone()
    sketch_dim = min(32, flat.shape[1])
    sketch = flat @ torch.randn(flat.shape[1], sketch_dim, generator=generator) / sketch_dim**0.5
    chosen = torch.empty(size, dtype=torch.long)
    chosen[0] = int(torch.randint(0, flat.shape[0], (1,), generator=generator))
    nearest = ((sketch - sketch[chosen[0]]) ** 2).sum(1)
    for i in range(1, size):
        index = int(torch.argmax(nearest))
        chosen[i] = index
        nearest = torch.minimum(nearest, ((sketch - sketch[index]) ** 2).sum(1))
    return flat[chosen].clone()


def knn_map(z: Tensor, bank: Tensor, bank_sq: Tensor) -> Tensor:
    """Distance of each cell of (N, d, h, w) to its nearest bank row -> (N, h, w)."""
    n, d, h, w = z.shape
    flat = z.permute(0, 2, 3, 1).reshape(n, h * w, d)
    sq = (flat * flat).sum(-1, keepdim=True)
    dist = sq - 2.0 * torch.matmul(flat, bank.T) + bank_sq
    nearest = dist.min(dim=-1).values
    return torch.sqrt(torch.clamp(nearest, min=0.0)).reshape(n, h, w)


def knn_map_chunked(z: Tensor, bank: Tensor, chunk: int = 4) -> Tensor:
    bank_sq = (bank * bank).sum(1)
    return torch.cat([knn_map(z[i : i + chunk], bank, bank_sq) for i in range(0, z.shape[0], chunk)])


def fit_gaussian(z: Tensor, ridge: float = 0.01) -> tuple[Tensor, Tensor]:
    """Per-position mean (d, h, w) and a factor ``L`` of the pooled precision (d, d)."""
    n, d, _, _ = z.shape
    zd = z.double()
    mean = zd.mean(0)
    flat_all = zd.permute(0, 2, 3, 1).reshape(-1, d)
    total = torch.cov(flat_all.T) if flat_all.shape[0] > 1 else torch.eye(d, dtype=torch.float64)
    if n >= 2:
        resid = (zd - mean).permute(0, 2, 3, 1).reshape(-1, d)
        within = resid.T @ resid / max(1, resid.shape[0] - z.shape[2] * z.shape[3])
    else:
        within = total
    cov = within + ridge * float(torch.diagonal(total).mean()) * torch.eye(d, dtype=torch.float64)
    precision = torch.linalg.inv(cov)
    factor = torch.linalg.cholesky((precision + precision.T) / 2)
    return mean.float(), factor.float()


def gaussian_map(z: Tensor, mean: Tensor, factor: Tensor) -> Tensor:
    diff = z - mean
    y = F.conv2d(diff, factor.T[:, :, None, None])
    return torch.sqrt((y * y).sum(1) + 1e-12)


def fit_head(
    z: Tensor,
    targets: Tensor,
    n_classes: int,
    generator: torch.Generator,
    steps: int = 50,
    max_per_class: int = 10000,
    weight_decay: float = 1e-3,
) -> tuple[Tensor, Tensor]:
    """Multinomial logistic regression on cells; ``targets`` (N, h, w) with -1 = ignore."""
    d = z.shape[1]
    flat = z.permute(0, 2, 3, 1).reshape(-1, d)
    labels = targets.reshape(-1)
    picked: list[Tensor] = []
    for cls in range(n_classes):
        index = torch.nonzero(labels == cls).flatten()
        if index.numel() > max_per_class:
            index = index[torch.randperm(index.numel(), generator=generator)[:max_per_class]]
        picked.append(index)
    index = torch.cat(picked)
    x, y = flat[index], labels[index]
    counts = torch.bincount(y, minlength=n_classes).float()
    class_weight = torch.where(counts > 0, counts.sum() / (counts.clamp_min(1) * (counts > 0).sum()), 0.0)
    weight = torch.zeros(n_classes, d)
    bias = torch.zeros(n_classes)
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    optimiser = torch.optim.LBFGS([weight, bias], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimiser.zero_grad()
        logits = x @ weight.T + bias
        loss = F.cross_entropy(logits, y, weight=class_weight) + weight_decay * (weight * weight).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(closure)
    bias = bias.detach().clone()
    bias[counts == 0] = -30.0  # classes without training cells are never predicted
    return weight.detach().clone(), bias


def head_logits(z: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    return F.conv2d(z, weight[:, :, None, None], bias)


def head_map(logits: Tensor) -> Tensor:
    """Log-odds of any anomaly class against the normal class -> (N, h, w)."""
    return torch.logsumexp(logits[:, 1:], dim=1) - logits[:, 0]


# ---------------------------------------------------------------------------- the scoring module


class ScoringGraph(nn.Module):
    """Image (N, 3, H, W) float 0..255 RGB at the working size -> score, flag, heatmap, type mask.

    Outputs: ``score`` (N,) calibrated anomaly probability; ``is_anomalous`` (N,) bool
    (``score >= 0.5``); ``heatmap`` (N, H, W) calibrated per-pixel probability; ``type_mask``
    (N, H, W) int64, 0 = background, k = anomaly type k (1 for models without named types).
    """

    proj_weight: Tensor
    proj_bias: Tensor
    bank: Tensor
    bank_sq: Tensor
    gauss_mean: Tensor
    gauss_factor: Tensor
    head_weight: Tensor
    head_bias: Tensor
    comp_mu: Tensor
    comp_sd: Tensor
    comp_w: Tensor
    threshold: Tensor
    scale: Tensor
    pixel_threshold: Tensor

    def __init__(
        self,
        extractor: FeatureExtractor,
        dim: int,
        grid: tuple[int, int],
        bank_size: int,
        n_classes: int,
        n_types: int,
        use: tuple[bool, bool, bool],
        sigma: float,
    ) -> None:
        super().__init__()
        self.extractor = extractor
        self.use_knn, self.use_gaussian, self.use_head = use
        self.n_types = n_types
        self.sigma = sigma
        channels = extractor.out_channels
        h, w = grid
        self.register_buffer("proj_weight", torch.zeros(dim, channels))
        self.register_buffer("proj_bias", torch.zeros(dim))
        self.register_buffer("bank", torch.zeros(bank_size, dim))
        self.register_buffer("bank_sq", torch.zeros(bank_size))
        self.register_buffer("gauss_mean", torch.zeros(dim, h, w))
        self.register_buffer("gauss_factor", torch.eye(dim))
        self.register_buffer("head_weight", torch.zeros(n_classes, dim))
        self.register_buffer("head_bias", torch.zeros(n_classes))
        self.register_buffer("comp_mu", torch.zeros(3))
        self.register_buffer("comp_sd", torch.ones(3))
        self.register_buffer("comp_w", torch.zeros(3))
        self.register_buffer("threshold", torch.tensor(0.0))
        self.register_buffer("scale", torch.tensor(1.0))
        self.register_buffer("pixel_threshold", torch.tensor(0.0))

    def fused_map(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Fused, normalised, smoothed anomaly map on the feature grid (N, 1, h, w); head logits."""
        z = project(self.extractor(x), self.proj_weight, self.proj_bias)
        maps: list[Tensor] = []
        logits: Tensor | None = None
        if self.use_knn:
            maps.append(
                self.comp_w[0] * (knn_map(z, self.bank, self.bank_sq) - self.comp_mu[0]) / self.comp_sd[0]
            )
        if self.use_gaussian:
            maps.append(
                self.comp_w[1]
                * (gaussian_map(z, self.gauss_mean, self.gauss_factor) - self.comp_mu[1])
                / self.comp_sd[1]
            )
        if self.use_head or self.n_types > 0:
            logits = head_logits(z, self.head_weight, self.head_bias)
        if self.use_head and logits is not None:
            maps.append(self.comp_w[2] * (head_map(logits) - self.comp_mu[2]) / self.comp_sd[2])
        fused = torch.stack(maps, 0).sum(0)[:, None]
        return gaussian_blur(fused, self.sigma), logits

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        fused, logits = self.fused_map(x)
        raw = fused.flatten(1).max(dim=1).values
        score = torch.sigmoid((raw - self.threshold) / self.scale)
        size = (x.shape[-2], x.shape[-1])
        up = F.interpolate(fused, size=size, mode="bilinear", align_corners=False)[:, 0]
        heatmap = torch.sigmoid((up - self.threshold) / self.scale)
        if self.n_types > 0 and logits is not None:
            types = logits[:, 1 : self.n_types + 1]
            types = F.interpolate(types, size=size, mode="bilinear", align_corners=False)
            kind = torch.argmax(types, dim=1) + 1
        else:
            kind = torch.ones_like(up, dtype=torch.int64)
        type_mask = torch.where(up >= self.pixel_threshold, kind, torch.zeros_like(kind))
        return score, score >= 0.5, heatmap, type_mask


def grid_of(size: tuple[int, int]) -> tuple[int, int]:
    return size[0] // STRIDE, size[1] // STRIDE


def cell_targets(mask: np.ndarray, grid: tuple[int, int], min_fraction: float = 0.1) -> np.ndarray:
    """Per-cell majority label of an int mask at the working size; -1 for ambiguous cells.

    A cell is labelled with a type when at least ``min_fraction`` of its pixels carry it; cells
    with some defect pixels below that fraction are ambiguous (ignored in training).
    """
    h, w = grid
    cells = (
        mask[: h * STRIDE, : w * STRIDE].reshape(h, STRIDE, w, STRIDE).transpose(0, 2, 1, 3).reshape(h, w, -1)
    )
    out = np.zeros((h, w), dtype=np.int64)
    defect = cells > 0
    fraction = defect.mean(-1)
    if defect.any():
        flat = cells.reshape(h * w, -1)
        top = np.array([np.bincount(row[row > 0]).argmax() if (row > 0).any() else 0 for row in flat])
        top = top.reshape(h, w)
        out = np.where(fraction >= min_fraction, top, np.where(fraction > 0, -1, 0))
    return out
