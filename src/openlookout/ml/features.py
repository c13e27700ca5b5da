"""Patch features: a swappable-weight ResNet backbone and a fixed multi-scale filter bank.

Both produce a feature map on a grid of stride 8 relative to the working image, so that one
feature vector describes one 8x8 cell with its neighbourhood (receptive field tens of pixels).
Inputs are float RGB in 0..255 (NCHW); ImageNet normalisation happens inside the module so that
the exported ONNX graph carries it.

Backbone weights are an input (``weights``): ``"pretrained"`` loads the project's own shipped
weights (``openlookout.ml.pretrained``), falling back to a seeded random initialisation with a
logged warning when none are shipped; ``"random"`` is the seeded random initialisation; any other
string is a path to a torchvision-format state dict file.
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from openlookout.ml.backbone import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ResNetFeatures,
    build_backbone,
    load_state_dict_file,
)

log = logging.getLogger(__name__)

STRIDE = 8


def make_backbone(
    weights: str = "pretrained", arch: str = "resnet18", seed: int = 0
) -> tuple[ResNetFeatures, str]:
    """A ``layer3``-deep backbone with the requested weights; also returns what was loaded."""
    model = build_backbone(arch, depth=3, seed=seed)
    source = "random"
    if weights == "pretrained":
        loaded = False
        try:
            from openlookout.ml.pretrained import load_pretrained
        except ImportError:
            pass
        else:
            loaded = arch == "resnet18" and load_pretrained(model)
        if loaded:
            source = "pretrained"
        else:
            log.warning(
                "no shipped pretrained weights for %s: using a random initialisation (seed %d)", arch, seed
            )
    elif weights != "random":
        load_state_dict_file(model, weights)
        source = "file"
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model, source


def adapt_batchnorm(backbone: ResNetFeatures, batches: list[Tensor]) -> None:
    """Re-estimate every BatchNorm's statistics on ``batches`` (normalised images), then freeze.

    A randomly initialised network has placeholder statistics (mean 0, variance 1) that leave
    its deeper activations badly scaled; weights pretrained on other images carry statistics of
    those images. Re-estimating them on the training images (AdaBN) conditions the features on
    the part at hand. The cumulative average over all batches makes the result independent of
    batch order.
    """
    norms = [m for m in backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    backbone.train()
    with torch.no_grad():
        for batch in batches:
            backbone.forward_stages(batch, ["layer3"])
    backbone.eval()
    for norm in norms:
        norm.momentum = 0.1


def _gaussian_kernel(sigma: float) -> Tensor:
    radius = max(1, math.ceil(2.5 * sigma))
    xs = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(xs**2) / (2 * sigma**2))
    return kernel / kernel.sum()


class FilterBank(nn.Module):
    """Fixed hand-made filters at four scales: colour, gradients, Laplacian, local contrast.

    No learned weights: it gives every detector a weight-free description of colour and texture
    that complements the backbone (which may be randomly initialised). 36 channels.
    """

    out_channels = 36
    kernels: Tensor

    def __init__(self) -> None:
        super().__init__()
        dx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
        lap = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]) / 4.0
        self.register_buffer("kernels", torch.stack([dx, dx.t(), lap])[:, None])

    def forward(self, x: Tensor) -> Tensor:
        """``x``: normalised RGB (N, 3, H, W) -> (N, 36, H/8, W/8)."""
        grid = (x.shape[-2] // STRIDE, x.shape[-1] // STRIDE)
        maps: list[Tensor] = []
        level = x
        for _ in range(4):
            level = F.avg_pool2d(level, 2)
            gray = level.mean(dim=1, keepdim=True)
            responses = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), self.kernels)
            mean = F.avg_pool2d(level, 3, 1, 1, count_include_pad=False)
            sq = F.avg_pool2d(level * level, 3, 1, 1, count_include_pad=False)
            std = torch.sqrt(torch.clamp(sq - mean * mean, min=1e-6))
            stack = torch.cat([level, responses.abs(), std], dim=1)
            maps.append(F.interpolate(stack, size=grid, mode="bilinear", align_corners=False))
        return torch.cat(maps, dim=1)


class FeatureExtractor(nn.Module):
    """Image (0..255 RGB, NCHW) -> patch features (N, C, H/8, W/8).

    ``backbone`` features are the requested ``layers`` (default ``layer2`` and ``layer3``),
    brought to the stride-8 grid (``layer1`` by 2x2 average pooling, ``layer3`` by bilinear
    upsampling), each averaged over a 3x3 neighbourhood as in PatchCore; the filter bank is
    appended when enabled.
    """

    mean: Tensor
    std: Tensor

    def __init__(
        self,
        backbone: ResNetFeatures | None,
        use_filterbank: bool = True,
        layers: tuple[str, ...] = ("layer2", "layer3"),
    ) -> None:
        super().__init__()
        if backbone is None and not use_filterbank:
            raise ValueError("need a backbone, the filter bank, or both")
        if not set(layers) <= {"layer1", "layer2", "layer3"} or not layers:
            raise ValueError(f"layers must be a non-empty subset of layer1..layer3, got {layers}")
        self.backbone = backbone
        self.layers = tuple(layers)
        self.filterbank = FilterBank() if use_filterbank else None
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0)
        channels = 0
        if backbone is not None:
            channels += sum(backbone.out_channels[name] for name in self.layers)
        if self.filterbank is not None:
            channels += FilterBank.out_channels
        self.out_channels = channels

    def normalise(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std

    def forward(self, x: Tensor) -> Tensor:
        x = self.normalise(x)
        parts: list[Tensor] = []
        grid = (x.shape[-2] // STRIDE, x.shape[-1] // STRIDE)
        if self.backbone is not None:
            stages = self.backbone.forward_stages(x, list(self.layers))
            for name, stage in zip(self.layers, stages, strict=True):
                if name == "layer1":
                    stage = F.avg_pool2d(stage, 2)
                elif name == "layer3":
                    stage = F.interpolate(stage, size=grid, mode="bilinear", align_corners=False)
                parts.append(F.avg_pool2d(stage, 3, 1, 1, count_include_pad=False))
        if self.filterbank is not None:
            parts.append(self.filterbank(x))
        return torch.cat(parts, dim=1)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of (N, 1, h, w) maps with replicate padding (ONNX-friendly)."""
    kernel = _gaussian_kernel(sigma).to(x.dtype)
    radius = kernel.numel() // 2
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    return F.conv2d(x, kernel.view(1, 1, -1, 1))
