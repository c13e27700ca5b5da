"""ResNet backbones in plain torch, with torchvision-compatible parameter names.

The parameter names (``conv1``, ``bn1``, ``layer1.0.conv1`` ...) follow torchvision's ResNet so that a
user-supplied torchvision-format state dict loads without renaming. Only the stem and the residual
stages are built: anomaly detectors use intermediate feature maps, never the classifier head, so
``fc`` keys in a loaded state dict are ignored.

Weights are a swappable input: build the architecture with :func:`build_backbone`, then call
:func:`load_state_dict_file` (a ``.pt``/``.pth`` state dict, fp16 or fp32) or leave it randomly
initialised with a seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, width: int = 64) -> None:
        super().__init__()
        mid = int(planes * (width / 64.0))
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != out_planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, out_planes, 1, stride, bias=False), nn.BatchNorm2d(out_planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


@dataclass(frozen=True)
class ResNetSpec:
    block: type[BasicBlock] | type[Bottleneck]
    layers: tuple[int, int, int, int]
    width: int = 64


SPECS: dict[str, ResNetSpec] = {
    "resnet18": ResNetSpec(BasicBlock, (2, 2, 2, 2)),
    "resnet34": ResNetSpec(BasicBlock, (3, 4, 6, 3)),
    "resnet50": ResNetSpec(Bottleneck, (3, 4, 6, 3)),
    "wide_resnet50_2": ResNetSpec(Bottleneck, (3, 4, 6, 3), width=128),
}

STAGES = ("layer1", "layer2", "layer3", "layer4")


class ResNetFeatures(nn.Module):
    """A ResNet without its head that returns the requested stage outputs.

    ``depth`` limits how many stages are built (3 = up to ``layer3``): detectors that only read
    ``layer2`` and ``layer3`` save the cost and the weights of ``layer4``.
    """

    def __init__(self, spec: ResNetSpec, depth: int = 4) -> None:
        super().__init__()
        if not 1 <= depth <= 4:
            raise ValueError("depth must be 1..4")
        self.depth = depth
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for index in range(depth):
            planes = 64 * 2**index
            stride = 1 if index == 0 else 2
            blocks: list[nn.Module] = []
            for block_index in range(spec.layers[index]):
                blocks.append(spec.block(inplanes, planes, stride if block_index == 0 else 1, spec.width))
                inplanes = planes * spec.block.expansion
            setattr(self, STAGES[index], nn.Sequential(*blocks))
        self.out_channels = {STAGES[i]: 64 * 2**i * spec.block.expansion for i in range(depth)}
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward_stages(self, x: Tensor, stages: Sequence[str]) -> list[Tensor]:
        """Run the network up to the deepest requested stage; return those stages in order."""
        wanted = set(stages)
        last = max(STAGES.index(s) for s in wanted)
        if last >= self.depth:
            raise ValueError(f"stage {STAGES[last]} is not built (depth={self.depth})")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        found: dict[str, Tensor] = {}
        for index in range(last + 1):
            x = getattr(self, STAGES[index])(x)
            if STAGES[index] in wanted:
                found[STAGES[index]] = x
        return [found[s] for s in stages]

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_stages(x, [STAGES[self.depth - 1]])[0]


# ImageNet statistics: torchvision-format weights expect inputs normalised with them, and the
# project's own pretraining uses the same so that either kind of weights is a drop-in swap.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_backbone(arch: str = "resnet18", depth: int = 4, seed: int | None = 0) -> ResNetFeatures:
    """A randomly initialised backbone (deterministic when ``seed`` is given)."""
    if arch not in SPECS:
        raise ValueError(f"unknown backbone {arch!r}; choose one of {sorted(SPECS)}")
    if seed is None:
        return ResNetFeatures(SPECS[arch], depth)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ResNetFeatures(SPECS[arch], depth)


def load_state_dict_file(model: ResNetFeatures, path: str | Path) -> list[str]:
    """Load a torchvision-format state dict file into ``model``; return the keys it lacked.

    Keys for stages the model does not build (and the ``fc`` head) are ignored; a key the model
    needs but the file lacks, or a shape that differs, raises ``ValueError`` with the key name.
    """
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a state dict")
    own = model.state_dict()
    cleaned: dict[str, Tensor] = {}
    for key, value in state.items():
        name = key.removeprefix("module.").removeprefix("backbone.")
        if name in own:
            if tuple(own[name].shape) != tuple(value.shape):
                raise ValueError(
                    f"{path}: {name} has shape {tuple(value.shape)}, expected {tuple(own[name].shape)}"
                )
            cleaned[name] = value.to(own[name].dtype)
    missing = [k for k in own if k not in cleaned and not k.endswith("num_batches_tracked")]
    if missing:
        raise ValueError(f"{path}: missing {len(missing)} parameters, first {missing[0]}")
    model.load_state_dict(cleaned, strict=False)
    return missing
