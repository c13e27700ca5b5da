"""Fine-tuning the defect network on a project's labelled images plus synthetic defects.

The frozen trunk's ``fine`` and ``low`` features (strides 4 and 8) are computed once per training
image as it is, once under a random harmless flip or turn, and once per synthetic defect of a
fixed pool made from the normal images (:mod:`openlookout.ml.synth`); training then only runs the
tuned ``mid``/``top`` parts and the head, which is what makes it affordable on a CPU. Each step
draws a balanced batch: half normal images, half anomalies, of which up to ``real_share`` are the
project's labelled anomalies and the rest synthetic defects; every sample is a random window of
80-100 % of the feature map in each direction (the network is fully convolutional).

Losses: image-level binary cross-entropy on the soft-maximum image logit (all images); cell-level
binary cross-entropy, balanced between defect and clean cells, wherever a mask says where the
defect is (normal images, synthetic defects, labelled masks); cross-entropy over anomaly types on
the defect cells of labelled masks (segmentation models). Labelled anomalies without a mask only
train the image logit, which lets the network find the defect itself.

BatchNorm statistics stay frozen, so a batch is run as micro-batches with accumulated gradients
(same result, far kinder to CPU caches). The schedule is fixed by the data size (no early stopping
on test data), so training is deterministic for a seed on one device.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from openlookout.ml.augment import transform
from openlookout.ml.defectnet import DefectNet
from openlookout.ml.synth import synthesize
from openlookout.ml.trunks import Trunk

log = logging.getLogger(__name__)

WINDOW_SIZES = 3
STRIDE = 4  # the head's cells; the frozen ``low`` level is at twice this stride


@dataclass(frozen=True)
class TuneConfig:
    steps: int
    batch: int = 16
    micro_batch: int = 4
    real_share: float = 0.6
    synthetic_per_normal: int = 2
    min_window: float = 0.8
    lr_trunk: float = 2e-4
    lr_head: float = 1e-3
    weight_decay: float = 1e-4
    warmup: float = 0.1
    type_weight: float = 0.5


@dataclass
class TrainingSet:
    """Images at the working size, 0/1 labels, type-index masks (``None``: none given)."""

    images: list[np.ndarray]
    labels: np.ndarray
    masks: list[np.ndarray | None]

    @property
    def normals(self) -> np.ndarray:
        return np.flatnonzero(self.labels == 0)

    @property
    def anomalies(self) -> np.ndarray:
        return np.flatnonzero(self.labels == 1)


@dataclass
class Sample:
    """One cached training example: frozen features and per-cell targets."""

    fine: Tensor  # (C1, 2h, 2w) float16, stride 4
    low: Tensor  # (C2, h, w) float16, stride 8
    label: int
    defect: np.ndarray  # (2h, 2w) 1 defect, 0 clean, -1 unknown
    kind: np.ndarray  # (2h, 2w) type index 0-based, -1 none


@dataclass
class SampleBank:
    normal: list[Sample] = field(default_factory=list)
    real: list[Sample] = field(default_factory=list)
    synthetic: list[Sample] = field(default_factory=list)


def cell_targets(mask: np.ndarray | None, grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(defect (h, w) float 0/1 or -1 = unknown, type (h, w) int 0-based or -1) per stride-4 cell.

    A cell is a defect cell when any of its pixels is; its type is the most frequent type there.
    """
    h, w = grid
    if mask is None:
        return np.full((h, w), -1.0, np.float32), np.full((h, w), -1, np.int64)
    cells = (
        mask[: h * STRIDE, : w * STRIDE].reshape(h, STRIDE, w, STRIDE).transpose(0, 2, 1, 3).reshape(h, w, -1)
    )
    defect = np.asarray((cells > 0).any(-1))
    kind: np.ndarray = np.full((h, w), -1, np.int64)
    for y, x in zip(*np.nonzero(defect), strict=True):
        values = cells[y, x]
        kind[y, x] = int(np.bincount(values[values > 0]).argmax()) - 1
    return defect.astype(np.float32), kind


def build_samples(
    frozen: Trunk,
    data: TrainingSet,
    transforms: list[str],
    config: TuneConfig,
    grid: tuple[int, int],
    seed: int,
    device: torch.device,
) -> SampleBank:
    """Frozen features of every image (plain and transformed), plus the synthetic pool.

    Images are made and encoded a micro-batch at a time, so only the compact features stay.
    """
    rng = np.random.default_rng(seed + 1)
    bank = SampleBank()

    def items() -> Iterator[tuple[np.ndarray, int, np.ndarray | None, bool]]:
        for index in range(len(data.images)):
            label = int(data.labels[index])
            mask = np.zeros(data.images[index].shape[:2], np.uint8) if label == 0 else data.masks[index]
            # the image as it is, and once under a random harmless transform (bounded memory)
            for name in ["identity"] + ([str(rng.choice(transforms))] if transforms else []):
                image = np.ascontiguousarray(transform(data.images[index], name))
                yield (
                    image,
                    label,
                    None if mask is None else np.ascontiguousarray(transform(mask, name)),
                    False,
                )
        for index in np.resize(data.normals, data.normals.size * config.synthetic_per_normal):
            name = str(rng.choice(["identity", *transforms]))
            image, mask = synthesize(np.ascontiguousarray(transform(data.images[int(index)], name)), rng)
            yield image, 1, mask.astype(np.uint8), True

    stream = items()
    while chunk := list(itertools.islice(stream, config.micro_batch)):
        x = torch.from_numpy(np.stack([c[0] for c in chunk])).permute(0, 3, 1, 2).float().to(device)
        with torch.no_grad():
            fines, lows = (t.to("cpu", torch.float16) for t in frozen.early(frozen.normalise(x)))
        for (_, label, mask, synthetic), fine, low in zip(chunk, fines, lows, strict=True):
            defect, kind = cell_targets(mask, grid)
            if synthetic:
                bank.synthetic.append(Sample(fine, low, label, defect, np.full(grid, -1, np.int64)))
            else:
                (bank.normal if label == 0 else bank.real).append(Sample(fine, low, label, defect, kind))
    return bank


def _draw(rng: np.random.Generator, pool: list[Sample], count: int) -> list[Sample]:
    if count <= 0 or not pool:
        return []
    return [pool[int(i)] for i in rng.choice(len(pool), size=count, replace=len(pool) < count)]


def draw_batch(bank: SampleBank, rng: np.random.Generator, config: TuneConfig) -> list[Sample]:
    n_normal = config.batch // 2
    n_anomalous = config.batch - n_normal
    real = _draw(rng, bank.real, min(len(bank.real), round(n_anomalous * config.real_share)))
    return _draw(rng, bank.normal, n_normal) + real + _draw(rng, bank.synthetic, n_anomalous - len(real))


Batch = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]


def window(samples: list[Sample], rng: np.random.Generator, min_window: float) -> Batch:
    """(fine, low, labels, defect cells, type cells) of a random window of each sample.

    One window size per batch, in stride-8 cells; stride-4 levels take the matching window.
    """
    h, w = samples[0].low.shape[-2:]
    # a few window sizes only: every new tensor shape costs the CPU kernels' caches memory
    scales = np.linspace(min_window, 1.0, WINDOW_SIZES)
    wh = max(2, round(h * float(rng.choice(scales))))
    ww = max(2, round(w * float(rng.choice(scales))))
    fines, lows, labels, defects, kinds = [], [], [], [], []
    for sample in samples:
        top, left = int(rng.integers(0, h - wh + 1)), int(rng.integers(0, w - ww + 1))
        rows, cols = slice(2 * top, 2 * (top + wh)), slice(2 * left, 2 * (left + ww))
        defect = sample.defect[rows, cols]
        label = sample.label
        if label == 1 and (sample.defect >= 0).all() and not (defect > 0).any():
            label = 0  # the window left the (known) defect out
        fines.append(sample.fine[:, rows, cols])
        lows.append(sample.low[:, top : top + wh, left : left + ww])
        labels.append(label)
        defects.append(defect)
        kinds.append(sample.kind[rows, cols])
    return (
        torch.stack(fines).float(),
        torch.stack(lows).float(),
        torch.tensor(labels, dtype=torch.float32),
        torch.from_numpy(np.stack(defects)),
        torch.from_numpy(np.stack(kinds)),
    )


def balanced_bce(logits: Tensor, target: Tensor) -> Tensor:
    """Mean BCE over defect cells plus mean BCE over clean cells (cells < 0 are ignored)."""
    losses = []
    for selected in (target > 0.5, (target >= 0) & (target <= 0.5)):
        if bool(selected.any()):
            losses.append(F.binary_cross_entropy_with_logits(logits[selected], target[selected]))
    return torch.stack(losses).sum() if losses else logits.sum() * 0.0


def schedule(step: int, config: TuneConfig) -> float:
    """Linear warm-up, then cosine decay to zero (a factor on the learning rates)."""
    warm = max(1, int(config.steps * config.warmup))
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, config.steps - warm)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def batch_loss(
    net: DefectNet, fine: Tensor, low: Tensor, y: Tensor, defect: Tensor, kind: Tensor, config: TuneConfig
) -> Tensor:
    image_logit, cells = net(fine, low)
    # the soft maximum over a window: the network's own k adapts to the window's size
    loss = F.binary_cross_entropy_with_logits(image_logit, y) + balanced_bce(cells[:, 0], defect)
    if net.n_types > 0 and bool((kind >= 0).any()):
        typed = kind >= 0
        type_logits = cells[:, 1:].permute(0, 2, 3, 1)[typed]
        loss = loss + config.type_weight * F.cross_entropy(type_logits, kind[typed])
    return loss


def finetune(
    net: DefectNet,
    bank: SampleBank,
    config: TuneConfig,
    seed: int,
    device: torch.device,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Train ``net`` in place on the cached samples; returns a few figures about the run."""
    rng = np.random.default_rng(seed + 2)
    trunk_params, head_params = net.trainable()
    optimiser = torch.optim.AdamW(
        [{"params": trunk_params, "lr": config.lr_trunk}, {"params": head_params, "lr": config.lr_head}],
        weight_decay=config.weight_decay,
    )
    base_rates = [config.lr_trunk, config.lr_head]
    net.to(device).eval()  # BatchNorm statistics stay frozen
    started = time.perf_counter()
    recent: list[float] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for step in range(config.steps):
            factor = schedule(step, config)
            for group, rate in zip(optimiser.param_groups, base_rates, strict=True):
                group["lr"] = rate * factor
            batch = window(draw_batch(bank, rng, config), rng, config.min_window)
            optimiser.zero_grad(set_to_none=True)
            total = 0.0
            size = batch[0].shape[0]
            for start in range(0, size, config.micro_batch):
                part = [t[start : start + config.micro_batch].to(device) for t in batch]
                share = part[0].shape[0] / size
                fine, low, y, defect, kind = part
                loss = batch_loss(net, fine, low, y, defect, kind, config)
                (loss * share).backward()
                total += float(loss.detach()) * share
            optimiser.step()
            recent = [*recent, total][-20:]
            if progress is not None:
                progress(step + 1, config.steps)
    net.eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return {"seconds": time.perf_counter() - started, "final_loss": float(np.mean(recent)) if recent else 0.0}
