"""The one module that scores an image: what ``predict`` runs and what is exported to ONNX.

``ScoringGraph(x)`` for a float (N, 3, H, W) 0..255 RGB batch at the working size returns
``(score, is_anomalous, heatmap, type_mask)``:

- the frozen trunk's early features feed both the defect network and the kNN model;
- ``score``: ``sigmoid(gain * (w * zn + (1 - w) * zk) + bias)`` of the standardised image
  scores (:class:`openlookout.ml.fusion.Decision`), 0.5 at the learned threshold;
- ``heatmap``: the same formula cell by cell (defect-network cell logits, smoothed kNN
  distances), upsampled to the working size;
- ``type_mask``: pixels whose defect-network probability reaches ``pixel_threshold``, on images
  flagged anomalous only, labelled with the most likely anomaly type (1-based; 1 for models
  without named types).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from openlookout.ml.defectnet import DefectNet
from openlookout.ml.knn import distance_map, gaussian_blur, patch_features, project
from openlookout.ml.trunks import Trunk


class ScoringGraph(nn.Module):
    proj_weight: Tensor
    proj_bias: Tensor
    bank: Tensor
    bank_sq: Tensor
    means: Tensor
    sds: Tensor
    weights: Tensor
    bias: Tensor
    pixel_threshold: Tensor

    def __init__(
        self, frozen: Trunk, net: DefectNet, dim: int, bank_size: int, sigma: float, segmentation: bool
    ) -> None:
        super().__init__()
        self.frozen = frozen
        self.net = net
        self.sigma = sigma
        self.segmentation = segmentation
        channels = frozen.low_channels + frozen.mid_channels
        self.register_buffer("proj_weight", torch.zeros(dim, channels))
        self.register_buffer("proj_bias", torch.zeros(dim))
        self.register_buffer("bank", torch.zeros(bank_size, dim))
        self.register_buffer("bank_sq", torch.zeros(bank_size))
        self.register_buffer("means", torch.zeros(2))  # defect network, kNN
        self.register_buffer("sds", torch.ones(2))
        self.register_buffer("weights", torch.tensor([0.5, 0.5]))  # gain * w, gain * (1 - w)
        self.register_buffer("bias", torch.tensor(0.0))
        self.register_buffer("pixel_threshold", torch.tensor(0.5))

    def early(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.frozen.early(self.frozen.normalise(x))

    def knn_map(self, low: Tensor) -> Tensor:
        """Smoothed distance map (N, 1, h, w) of each cell to the normal bank."""
        z = project(patch_features(self.frozen, low), self.proj_weight, self.proj_bias)
        return gaussian_blur(distance_map(z, self.bank, self.bank_sq)[:, None], self.sigma)

    def raw(self, fine: Tensor, low: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(net image logit (N,), net cell logits (N, 1+T, H/4, W/4), kNN image score (N,), kNN map)."""
        net_image, cells = self.net(fine, low)
        dist = self.knn_map(low)
        return net_image, cells, dist.flatten(1).max(dim=1).values, dist

    def decide(self, net: Tensor, knn: Tensor) -> Tensor:
        zn = (net - self.means[0]) / self.sds[0]
        zk = (knn - self.means[1]) / self.sds[1]
        return torch.sigmoid(self.weights[0] * zn + self.weights[1] * zk + self.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        net_image, cells, knn_image, dist = self.raw(*self.early(x))
        score = self.decide(net_image, knn_image)
        flag = score >= 0.5
        size = (x.shape[-2], x.shape[-1])
        dist = F.interpolate(dist, size=cells.shape[-2:], mode="bilinear", align_corners=False)
        cell_map = self.decide(cells[:, 0:1], dist)
        heatmap = F.interpolate(cell_map, size=size, mode="bilinear", align_corners=False)[:, 0]
        defect = torch.sigmoid(F.interpolate(cells[:, 0:1], size=size, mode="bilinear", align_corners=False))[
            :, 0
        ]
        if self.net.n_types > 0:
            types = F.interpolate(cells[:, 1:], size=size, mode="bilinear", align_corners=False)
            kind = torch.argmax(types, dim=1) + 1
        else:
            kind = torch.ones_like(defect, dtype=torch.int64)
        marked = (defect >= self.pixel_threshold) & flag[:, None, None]
        type_mask = torch.where(marked, kind, torch.zeros_like(kind))
        return score, flag, heatmap, type_mask
