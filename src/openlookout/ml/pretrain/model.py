"""The backbone under pretraining plus its training-only heads.

The heads never ship: only the backbone's torchvision-named parameters are exported. The fractal
head reads pooled ``layer3``; the texture head reads pooled ``layer2`` and ``layer3``; the mark head
reads ``layer2`` and upsampled ``layer3`` at each position, the two stages the detector compares.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from openlookout.ml.backbone import ResNetFeatures, build_backbone


def _projector(channels: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True)
    )


class PretrainNet(nn.Module):
    """A resnet18 backbone (``depth`` stages) with fractal, texture and mark heads."""

    def __init__(self, n_fractal: int, n_texture: int, depth: int = 3, seed: int = 0) -> None:
        super().__init__()
        self.backbone: ResNetFeatures = build_backbone("resnet18", depth=depth, seed=seed)
        c2 = self.backbone.out_channels["layer2"]
        c3 = self.backbone.out_channels["layer3"]
        self.fractal_proj = _projector(c3, 512)
        self.fractal_head = nn.Linear(512, n_fractal)
        self.texture_proj = _projector(c2 + c3, 256)
        self.texture_head = nn.Linear(256, n_texture)
        self.mark_head = nn.Sequential(_projector(c2 + c3, 128), nn.Conv2d(128, 1, 1))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Fractal logits ``(n, F)``, texture logits ``(n, T)``, mark logits ``(n, 1, h/8, w/8)``."""
        l2, l3 = self.backbone.forward_stages(x, ["layer2", "layer3"])
        l3_up = F.interpolate(l3, size=l2.shape[-2:], mode="bilinear", align_corners=False)
        both = torch.cat((l2, l3_up), 1)
        fractal = self.fractal_head(self.fractal_proj(l3).mean((2, 3)))
        texture = self.texture_head(self.texture_proj(both).mean((2, 3)))
        marks = self.mark_head(both)
        return fractal, texture, marks
