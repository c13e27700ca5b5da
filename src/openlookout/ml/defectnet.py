"""The supervised defect network: a fine-tuned trunk with a small segmentation head.

:class:`DefectNet` reads the frozen ``low`` features (stride 8) and runs its own, fine-tuned
``mid`` and ``top`` parts; a light feature-pyramid head mixes the three levels at stride 8 and
gives, per cell, one "defect" logit and, for segmentation models, one logit per anomaly type.
The head works at stride 4 (the trunk's ``fine`` level) so masks follow small defects. The
image logit is the mean of the ``k`` highest cell logits (a soft maximum), so the same map
that localises a defect decides the image: image labels train it as multiple-instance learning,
masks (real or synthetic) train it cell by cell.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from openlookout.ml.trunks import Trunk

HEAD_WIDTH = 64


def top_k_count(cells: int, fraction: float) -> int:
    return max(1, round(cells * fraction))


class DefectHead(nn.Module):
    """Feature pyramid: levels mixed at stride 8, refined with the stride-4 ``fine`` level."""

    def __init__(self, fine: int, low: int, mid: int, top: int, n_out: int, width: int = HEAD_WIDTH) -> None:
        super().__init__()
        self.lat_fine = nn.Conv2d(fine, width, 1)
        self.lat_low = nn.Conv2d(low, width, 1)
        self.lat_mid = nn.Conv2d(mid, width, 1)
        self.lat_top = nn.Conv2d(top, width, 1)
        self.mix = nn.Conv2d(width, width, 3, padding=1)
        self.out = nn.Conv2d(width, n_out, 1)

    def forward(self, fine: Tensor, low: Tensor, mid: Tensor, top: Tensor) -> Tensor:
        size = (low.shape[-2], low.shape[-1])
        y = self.lat_low(low)
        y = y + F.interpolate(self.lat_mid(mid), size=size, mode="bilinear", align_corners=False)
        y = y + F.interpolate(self.lat_top(top), size=size, mode="bilinear", align_corners=False)
        y = F.relu(self.mix(F.relu(y)))
        size = (fine.shape[-2], fine.shape[-1])
        y = F.relu(self.lat_fine(fine) + F.interpolate(y, size=size, mode="bilinear", align_corners=False))
        return self.out(y)


class DefectNet(nn.Module):
    """Frozen (fine, low) features -> (image logit (N,), stride-4 cell logits (N, 1 + types, h, w))."""

    def __init__(self, trunk: Trunk, n_types: int, grid: tuple[int, int], top_fraction: float) -> None:
        super().__init__()
        self.trunk = trunk
        self.n_types = n_types
        self.head = DefectHead(
            trunk.fine_channels, trunk.low_channels, trunk.mid_channels, trunk.top_channels, 1 + n_types
        )
        self.k = top_k_count(grid[0] * grid[1], top_fraction)
        assert self.head.out.bias is not None
        nn.init.constant_(self.head.out.bias, 0.0)

    def forward(self, fine: Tensor, low: Tensor) -> tuple[Tensor, Tensor]:
        mid = self.trunk.mid(low)
        top = self.trunk.top(mid)
        cells = self.head(fine, low, mid, top)
        image = torch.topk(cells[:, 0].flatten(1), self.k, dim=1).values.mean(dim=1)
        return image, cells

    def trainable(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(fine-tuned trunk parameters, head parameters)."""
        return self.trunk.tunable(), list(self.head.parameters())
