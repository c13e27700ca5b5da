"""Accuracy and speed of the detector on real inspection sets, one configuration for all.

Usage::

    python benchmarks/accuracy.py --suite --datasets ../shared/datasets --devsets ../shared/devsets
        [--only NAME ...] [--preset default] [--set key=json ...] [--json out.json]

Each set is split, deterministically (seed 0), into the project's *train* and *test* datasets
and a *holdout* part the detector never sees; every figure is measured on the holdout part only:

- devsets (``bsdata_ballscrew``, ``mvtec_screw``, ``piped_paper_brg_rl``, ``piped_paper_flr_tl``):
  a 50/25/25 split of normals and anomalies, grouped so near-copies stay on one side (ball-screw
  position and angle, screw defect number, paper sheet);
- ``lfv-circuitboard``: train/ and test/ as published, holdout extra_images/;
- ``lfv-cookies``: the manifest's masked training images split 2:1 into train and test,
  holdout test-images/;
- ``lfv-aliens``: a 50/25/25 stratified split.

Sets with masks train a segmentation model. Per set (each in its own process, so peak memory
is per set): holdout image AUROC, F1/precision/recall at the model's own threshold, pixel AUROC
and mean IoU where the holdout has masks, training seconds, ms per image for torch and for
onnxruntime (batch 1, 2 threads, decode from bytes included), peak RSS; then the means.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

DEVSETS = ("bsdata_ballscrew", "mvtec_screw", "piped_paper_brg_rl", "piped_paper_flr_tl")
DATASETS = ("lfv-circuitboard", "lfv-cookies", "lfv-aliens")
ALL = DEVSETS + DATASETS
SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}

Item = tuple[Path, int, Path | None]  # image, label, mask (None: no mask)
Split = dict[str, list[Item]]


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)


def group_of(name: str, stem: str) -> str:
    """The near-copy group of a devset file (see the devsets README)."""
    if name == "bsdata_ballscrew":
        found = re.match(r"\d+_\d+_(\d+_\d+)_crop", stem)
        return found.group(1) if found else stem
    if name == "mvtec_screw":
        found = re.match(r"(defect_\d+)", stem)
        return found.group(1) if found else stem
    if name.startswith("piped_paper"):
        return stem.rsplit("_", 1)[0]
    return stem


def grouped_split(
    items: list[Item], groups: list[str], shares: tuple[float, ...], seed: int = 0
) -> list[list[Item]]:
    """Assign whole groups to parts, filling each part's per-class quota greedily in random order."""
    rng = np.random.default_rng(seed)
    names = sorted(set(groups))
    order = [names[i] for i in rng.permutation(len(names))]
    members: dict[str, list[int]] = {g: [] for g in names}
    for index, group in enumerate(groups):
        members[group].append(index)
    totals = np.bincount([label for _, label, _ in items], minlength=2).astype(float)
    targets = np.outer(shares, totals)
    counts = np.zeros_like(targets)
    parts: list[list[Item]] = [[] for _ in shares]
    for group in order:
        composition = np.bincount([items[i][1] for i in members[group]], minlength=2).astype(float)
        deficit = ((targets - counts) / np.maximum(targets, 1.0)) @ composition
        part = int(np.argmax(deficit))
        counts[part] += composition
        parts[part] += [items[i] for i in members[group]]
    return parts


def devset(root: Path, name: str) -> Split:
    base = root / name
    items: list[Item] = []
    for label, folder in ((0, "normal"), (1, "anomaly")):
        for path in _files(base / folder):
            mask = base / "masks" / f"{path.stem}.png"
            items.append((path, label, mask if mask.exists() else None))
    groups = [group_of(name, p.stem) for p, _, _ in items]
    train, test, holdout = grouped_split(items, groups, (0.5, 0.25, 0.25))
    return {"train": train, "test": test, "holdout": holdout}


def circuitboard(root: Path) -> Split:
    def part(name: str) -> list[Item]:
        return [(p, 0, None) for p in _files(root / name / "normal")] + [
            (p, 1, None) for p in _files(root / name / "anomaly")
        ]

    extra = [(p, int("anomaly" in p.name), None) for p in _files(root / "extra_images")]
    return {"train": part("train"), "test": part("test"), "holdout": extra}


def cookies(root: Path) -> Split:
    base = root / "dataset-files"
    masked: list[Item] = []
    for line in (base / "manifests" / "template.manifest").read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            mask = entry.get("anomaly-mask-ref")
            masked.append(
                (
                    base / entry["source-ref"],
                    int(entry.get("anomaly-label", 0)),
                    base / mask if mask else None,
                )
            )
    train, test = grouped_split(masked, [str(p) for p, _, _ in masked], (2 / 3, 1 / 3))
    holdout = [(p, int("anomaly" in p.name), None) for p in _files(root / "test-images")]
    return {"train": train, "test": test, "holdout": holdout}


def aliens(root: Path) -> Split:
    items = [(p, 0, None) for p in _files(root / "normal")] + [(p, 1, None) for p in _files(root / "anomaly")]
    train, test, holdout = grouped_split(items, [str(p) for p, _, _ in items], (0.5, 0.25, 0.25))
    return {"train": train, "test": test, "holdout": holdout}


def load_split(name: str, datasets: Path | None, devsets: Path | None) -> Split:
    if name in DEVSETS:
        if devsets is None:
            raise SystemExit(f"{name} needs --devsets")
        return devset(devsets, name)
    if datasets is None:
        raise SystemExit(f"{name} needs --datasets")
    loaders = {"lfv-circuitboard": circuitboard, "lfv-cookies": cookies, "lfv-aliens": aliens}
    return loaders[name](datasets / name)


def read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Type-1 mask at ``size``: mode-L masks (255 = defect) or Ground Truth colour PNGs (alpha > 0)."""
    with Image.open(path) as pil:
        if pil.mode == "L":
            mask = (np.asarray(pil) > 127).astype(np.uint8)
        else:
            rgba = np.asarray(pil.convert("RGBA"))
            mask = ((rgba[..., 3] > 0) & (rgba[..., :3].sum(-1) > 0)).astype(np.uint8)
    resized = Image.fromarray(mask).resize((size[1], size[0]), Image.Resampling.NEAREST)
    return np.asarray(resized).astype(np.int64)


def _full_mask(path: Path) -> np.ndarray:
    with Image.open(path) as pil:
        return read_mask(path, (pil.height, pil.width))


def run_one(name: str, args: argparse.Namespace, params: dict[str, Any]) -> dict[str, Any]:
    import torch

    from openlookout.ml import AnomalyDetector, OnnxDetector, evaluate, export_onnx
    from openlookout.ml.calibration import auroc
    from openlookout.ml.detector import Validation, defect_area
    from openlookout.ml.fusion import fit_decision
    from openlookout.ml.imageio import decode_image

    torch.set_num_threads(args.threads)
    split = load_split(name, args.datasets, args.devsets)
    segmentation = any(m is not None for _, _, m in split["train"])
    detector = AnomalyDetector(**params)
    # as the service does: the training anomalies' masks, at full resolution, tell the defect size
    typical = defect_area([_full_mask(m) for _, label, m in split["train"] if label == 1 and m is not None])
    with Image.open(split["train"][0][0]) as first:
        size = detector.working_size_for(first.height, first.width, defect_area=typical)

    def images(part: str) -> list[np.ndarray]:
        return [decode_image(p, size) for p, _, _ in split[part]]

    def masks(part: str) -> list[np.ndarray | None] | None:
        if not segmentation:
            return None
        return [
            read_mask(m, size) if m is not None else (np.zeros(size, np.int64) if label == 0 else None)
            for _, label, m in split[part]
        ]

    labels = {part: [label for _, label, _ in split[part]] for part in split}
    types = ["anomaly"] if segmentation else None
    started = time.perf_counter()
    detector.fit(
        images("train"),
        labels["train"],
        masks("train"),
        types,
        validation=Validation(images("test"), labels["test"], masks("test")),
    )
    train_s = time.perf_counter() - started

    payloads = [p.read_bytes() for p, _, _ in split["holdout"]]
    torch_preds, torch_ms = [], []
    for data in payloads:
        t0 = time.perf_counter()
        torch_preds.append(detector.predict([decode_image(data, size)])[0])
        torch_ms.append((time.perf_counter() - t0) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        runner = OnnxDetector(export_onnx(detector, Path(tmp) / "model.onnx"), threads=args.threads)
        onnx_preds, onnx_ms = [], []
        for data in payloads:
            t0 = time.perf_counter()
            onnx_preds.append(runner.predict_bytes(data))
            onnx_ms.append((time.perf_counter() - t0) * 1000)
    holdout_masks = masks("holdout")
    has_masks = holdout_masks is not None and any(
        m is not None and label == 1 for m, label in zip(holdout_masks, labels["holdout"], strict=True)
    )
    report = evaluate(torch_preds, labels["holdout"], holdout_masks if has_masks else None, types)
    onnx_report = evaluate(onnx_preds, labels["holdout"], None, None)
    # the two parts alone, each with its own decision fitted on the same validation images
    holdout_truth = np.array(labels["holdout"])
    raw = detector._raw_scores(detector.graph_, [decode_image(p, size) for p, _, _ in split["holdout"]])
    val = detector._raw_scores(detector.graph_, images("test"))
    alone = {}
    for part, weight in (("net", 1.0), ("knn", 0.0)):
        decision = fit_decision(val.net, val.knn, np.array(labels["test"]), net_weight=weight)
        flags = decision.probability(raw.net, raw.knn) >= 0.5
        tp = int((flags & (holdout_truth == 1)).sum())
        f1 = (
            2
            * tp
            / max(
                1,
                2 * tp
                + int((flags & (holdout_truth == 0)).sum())
                + int((~flags & (holdout_truth == 1)).sum()),
            )
        )
        alone[f"{part}_f1"] = f1

    return {
        "dataset": name,
        "sizes": {part: len(items) for part, items in split.items()},
        "working_size": list(size),
        "segmentation": segmentation,
        "weights": detector.weights_source_,
        "transforms": detector.transforms_,
        "steps": detector.train_steps_,
        "net_weight": detector.decision_.net_weight,
        "validation_auroc": detector.validation_auroc_,
        "image_auroc": report.image_auroc,
        "net_auroc": auroc(raw.net, holdout_truth),
        "knn_auroc": auroc(raw.knn, holdout_truth),
        **alone,
        # raw scores, to study decision rules without retraining
        "raw": {
            "validation": {"net": val.net.tolist(), "knn": val.knn.tolist(), "labels": labels["test"]},
            "holdout": {"net": raw.net.tolist(), "knn": raw.knn.tolist(), "labels": labels["holdout"]},
        },
        "f1": report.f1,
        "precision": report.precision,
        "recall": report.recall,
        "pixel_auroc": report.pixel_auroc,
        "mean_iou": report.labels[0].mean_iou if has_masks and report.labels else None,
        "onnx_auroc": onnx_report.image_auroc,
        "max_score_diff": float(
            max(abs(a.score - b.score) for a, b in zip(torch_preds, onnx_preds, strict=True))
        ),
        "train_s": train_s,
        "torch_ms": float(np.median(torch_ms[1:] or torch_ms)),
        "onnx_ms": float(np.median(onnx_ms[1:] or onnx_ms)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average_1min": os.getloadavg()[0],
    }


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


HEADER = (
    f"{'set':20} {'AUROC':>6} {'F1':>5} {'P':>5} {'R':>5} {'pixAUC':>6} {'mIoU':>5} {'train_s':>7} "
    f"{'torch_ms':>8} {'onnx_ms':>7} {'RSS_MB':>6}  notes"
)


def row(r: dict[str, Any]) -> str:
    return (
        f"{r['dataset']:20} {_fmt(r['image_auroc'])} {_fmt(r['f1'], 2):>5} {_fmt(r['precision'], 2):>5} "
        f"{_fmt(r['recall'], 2):>5} {_fmt(r['pixel_auroc']):>6} {_fmt(r['mean_iou'], 2):>5} "
        f"{r['train_s']:7.0f} {r['torch_ms']:8.0f} {r['onnx_ms']:7.0f} {r['peak_rss_mb']:6.0f}  "
        f"net {_fmt(r['net_auroc'])}/{_fmt(r.get('net_f1'), 2)} "
        f"knn {_fmt(r['knn_auroc'])}/{_fmt(r.get('knn_f1'), 2)} w={r['net_weight']:.2f} "
        f"val {_fmt(r['validation_auroc'])} {r['working_size'][1]}x{r['working_size'][0]} "
        f"steps {r['steps']} aug {','.join(r['transforms']) or '-'} load {r['load_average_1min']:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", action="store_true", help="every set (the default when --only is absent)")
    parser.add_argument("--datasets", type=Path, help="folder with lfv-circuitboard, lfv-cookies, lfv-aliens")
    parser.add_argument("--devsets", type=Path, help="folder with the four development sets")
    parser.add_argument("--only", action="append", choices=ALL)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--set", action="append", default=[], help="detector parameter key=json")
    parser.add_argument("--json", type=Path, help="write all results here")
    parser.add_argument(
        "--threads", type=int, default=2, help="torch and onnxruntime threads (2 for the targets)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    params: dict[str, Any] = {"preset": args.preset}
    for item in args.set:
        key, _, text = item.partition("=")
        params[key] = _value(text)
    if args.child:
        result = run_one(args.child, args, params)
        assert args.child_out is not None
        args.child_out.write_text(json.dumps(result))
        return
    names = args.only or [
        n for n in ALL if (n in DEVSETS and args.devsets) or (n in DATASETS and args.datasets)
    ]
    print(f"params={params} threads={args.threads}", flush=True)
    print(HEADER, flush=True)
    results = []
    for name in names:
        with tempfile.NamedTemporaryFile(suffix=".json") as handle:
            command = [
                sys.executable,
                __file__,
                "--child",
                name,
                "--child-out",
                handle.name,
                "--preset",
                args.preset,
            ]
            command += ["--threads", str(args.threads)]
            for flag, value in (("--datasets", args.datasets), ("--devsets", args.devsets)):
                if value is not None:
                    command += [flag, str(value)]
            for item in args.set:
                command += ["--set", item]
            subprocess.run(command, check=True)
            result = json.loads(Path(handle.name).read_text())
        results.append(result)
        print(row(result), flush=True)
    if len(results) > 1:
        keys = ("image_auroc", "f1", "precision", "recall", "train_s", "torch_ms", "onnx_ms", "peak_rss_mb")
        mean = {k: float(np.mean([r[k] for r in results])) for k in keys}
        ious = [r["mean_iou"] for r in results if r["mean_iou"] is not None]
        pix = [r["pixel_auroc"] for r in results if r["pixel_auroc"] is not None]
        print(
            f"{'mean':20} {mean['image_auroc']:6.3f} {mean['f1']:5.2f} {mean['precision']:5.2f} "
            f"{mean['recall']:5.2f} {_fmt(float(np.mean(pix)) if pix else None):>6} "
            f"{_fmt(float(np.mean(ious)) if ious else None, 2):>5} {mean['train_s']:7.0f} "
            f"{mean['torch_ms']:8.0f} {mean['onnx_ms']:7.0f} {max(r['peak_rss_mb'] for r in results):6.0f}  "
            f"min AUROC {min(r['image_auroc'] for r in results):.3f} (RSS column: the maximum)",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
