"""Quick probe of backbone weights for anomaly detection: a PatchCore-style kNN on the example sets.

Fits a memory bank of ``layer2`` + ``layer3`` patch features (3x3 local averaging, ``layer3``
upsampled to ``layer2``'s grid) on normal images, scores each test image by its largest
nearest-neighbour distance, and prints image AUROC per dataset for each set of weights asked for:
``random`` (seeded initialisation), ``shipped`` (the package's formula-pretrained weights) or a path
to a state dict or a pretraining checkpoint. Protocols:

- lfv-circuitboard: fit on train/normal, test on test/{normal,anomaly};
- lfv-cookies: fit on the normal images of dataset-files/training-images (labels from the manifest),
  test on test-images (label from the file name);
- lfv-aliens: seed-0 stratified 50/50 split; fit on the normal half, test on the rest.

Usage: ``python benchmarks/backbone_probe.py --datasets ../shared/datasets --weights random shipped``
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from openlookout.ml.backbone import IMAGENET_MEAN, IMAGENET_STD, ResNetFeatures, build_backbone
from openlookout.ml.pretrained import load_pretrained

Split = tuple[list[Path], list[Path], list[int]]


def circuitboard(root: Path) -> Split:
    base = root / "lfv-circuitboard"
    train = sorted((base / "train" / "normal").glob("*"))
    test = sorted((base / "test" / "normal").glob("*")) + sorted((base / "test" / "anomaly").glob("*"))
    labels = [0] * len(list((base / "test" / "normal").glob("*"))) + [1] * len(
        list((base / "test" / "anomaly").glob("*"))
    )
    return train, test, labels


def cookies(root: Path) -> Split:
    base = root / "lfv-cookies"
    manifest = base / "dataset-files" / "manifests" / "template.manifest"
    train = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            if int(entry["anomaly-label"]) == 0:
                train.append(base / "dataset-files" / entry["source-ref"])
    test = sorted((base / "test-images").glob("*"))
    labels = [1 if "anomaly" in p.name else 0 for p in test]
    return sorted(train), test, labels


def aliens(root: Path) -> Split:
    base = root / "lfv-aliens"
    rng = random.Random(0)
    normal = sorted((base / "normal").glob("*"))
    anomaly = sorted((base / "anomaly").glob("*"))
    rng.shuffle(normal)
    rng.shuffle(anomaly)
    train = normal[: len(normal) // 2]
    test_n, test_a = normal[len(normal) // 2 :], anomaly[len(anomaly) // 2 :]
    return train, test_n + test_a, [0] * len(test_n) + [1] * len(test_a)


DATASETS = {"lfv-circuitboard": circuitboard, "lfv-cookies": cookies, "lfv-aliens": aliens}


def load_images(paths: list[Path], size: int) -> torch.Tensor:
    arrays = [np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR)) for p in paths]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255
    mean = torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def patch_features(model: ResNetFeatures, images: torch.Tensor) -> torch.Tensor:
    out = []
    for start in range(0, len(images), 8):
        l2, l3 = model.forward_stages(images[start : start + 8], ["layer2", "layer3"])
        l2 = F.avg_pool2d(l2, 3, 1, 1)
        l3 = F.interpolate(
            F.avg_pool2d(l3, 3, 1, 1), size=l2.shape[-2:], mode="bilinear", align_corners=False
        )
        out.append(torch.cat((l2, l3), 1))
    return torch.cat(out)


def adapt_batchnorm(model: ResNetFeatures, images: torch.Tensor) -> None:
    """Re-estimate BatchNorm running statistics on the fit images (an unsupervised adaptation)."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    model.train()
    for start in range(0, len(images), 8):
        model.forward_stages(images[start : start + 8], ["layer3"])
    model.eval()


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@torch.no_grad()
def score(
    model: ResNetFeatures, train: torch.Tensor, test: torch.Tensor, bn_adapt: bool = False
) -> np.ndarray:
    if bn_adapt:
        adapt_batchnorm(model, train)
    bank = patch_features(model, train)
    bank = bank.permute(0, 2, 3, 1).reshape(-1, bank.shape[1])
    feats = patch_features(model, test)
    result = []
    for f in feats:
        q = f.permute(1, 2, 0).reshape(-1, f.shape[0])
        dist = torch.cat(
            [torch.cdist(q, bank[i : i + 16384]).amin(1, keepdim=True) for i in range(0, len(bank), 16384)], 1
        )
        result.append(float(dist.amin(1).max()))
    return np.array(result)


def make_model(weights: str) -> ResNetFeatures:
    model = build_backbone("resnet18", depth=3, seed=0)
    if weights == "shipped":
        if not load_pretrained(model):
            raise SystemExit("no shipped weights in the package")
    elif weights != "random":
        state = torch.load(weights, map_location="cpu", weights_only=False)
        if isinstance(state, dict) and "model" in state:
            state = {
                k.removeprefix("backbone."): v for k, v in state["model"].items() if k.startswith("backbone.")
            }
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    return model.eval()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--datasets",
        type=Path,
        required=True,
        help="folder holding lfv-circuitboard, lfv-cookies, lfv-aliens",
    )
    parser.add_argument("--weights", nargs="+", default=["random", "shipped"])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument(
        "--bn-adapt", action="store_true", help="re-estimate BatchNorm statistics per dataset"
    )
    parser.add_argument("--only", action="append", choices=sorted(DATASETS))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = {}
    for name, split in DATASETS.items():
        if args.only and name not in args.only:
            continue
        train, test, labels = split(args.datasets)
        data[name] = (load_images(train, args.size), load_images(test, args.size), np.array(labels))
    table: dict[str, dict[str, float]] = {}
    for weights in args.weights:
        t0 = time.time()
        table[weights] = {
            name: round(auroc(score(make_model(weights), tr, te, args.bn_adapt), y), 4)
            for name, (tr, te, y) in data.items()
        }
        table[weights]["mean"] = round(float(np.mean(list(table[weights].values()))), 4)
        print(weights, json.dumps(table[weights]), f"({time.time() - t0:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
