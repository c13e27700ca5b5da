"""Accuracy and speed of the detector on the Lookout for Vision example datasets.

Usage: ``python benchmarks/accuracy.py --datasets ../shared/datasets [--preset default|fast|highres]
[--only lfv-cookies] [--set key=value ...] [--json out.json]``

Per dataset (each in its own subprocess, so peak memory is per dataset): image AUROC, F1,
precision and recall at the learned threshold, pixel metrics where test masks exist, training
seconds, ms/image for torch and for onnxruntime at batch 1 with 2 threads (JPEG/PNG decode from
bytes included), and the process's peak RSS. Protocols:

- lfv-circuitboard: fit on train/ (20 normal + 20 anomaly), test on test/ (20 + 20);
- lfv-cookies: fit on the manifest's training images with their masks (segmentation), test on
  test-images/ (label from the file name; the test set has no masks, so no pixel metrics);
- lfv-aliens: a seed-0 stratified 50/50 split of normal/ and anomaly/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

DATASETS = ("lfv-circuitboard", "lfv-cookies", "lfv-aliens")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}

Item = tuple[Path, int, Path | None]  # image path, label, mask path


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def circuitboard(root: Path) -> tuple[list[Item], list[Item], list[str]]:
    def split(name: str) -> list[Item]:
        return [(p, 0, None) for p in _files(root / name / "normal")] + [
            (p, 1, None) for p in _files(root / name / "anomaly")
        ]

    return split("train"), split("test"), []


def cookies(root: Path) -> tuple[list[Item], list[Item], list[str]]:
    base = root / "dataset-files"
    train: list[Item] = []
    types: list[str] = []
    for line in (base / "manifests" / "template.manifest").read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        label = int(entry.get("anomaly-label", 0))
        mask_ref = entry.get("anomaly-mask-ref")
        if mask_ref:
            colours = entry["anomaly-mask-ref-metadata"]["internal-color-map"]
            for spec in colours.values():
                if spec["class-name"] not in types and spec["class-name"].upper() != "BACKGROUND":
                    types.append(spec["class-name"])
        train.append((base / entry["source-ref"], label, base / mask_ref if mask_ref else None))
    test = [(p, int("anomaly" in p.name), None) for p in _files(root / "test-images")]
    return train, test, types


def aliens(root: Path) -> tuple[list[Item], list[Item], list[str]]:
    rng = np.random.default_rng(0)
    train: list[Item] = []
    test: list[Item] = []
    for label, name in ((0, "normal"), (1, "anomaly")):
        files = _files(root / name)
        order = rng.permutation(len(files))
        half = len(files) // 2
        train += [(files[i], label, None) for i in order[:half]]
        test += [(files[i], label, None) for i in order[half:]]
    return train, test, []


def read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Type-1 mask from a Ground Truth PNG: a defect pixel has alpha > 0 and colour #23A436."""
    with Image.open(path) as pil:
        rgba = np.asarray(pil.convert("RGBA"))
    colour = (rgba[..., 0] == 0x23) & (rgba[..., 1] == 0xA4) & (rgba[..., 2] == 0x36)
    mask = ((rgba[..., 3] > 0) & colour).astype(np.uint8)
    resized = Image.fromarray(mask).resize((size[1], size[0]), Image.Resampling.NEAREST)
    return np.asarray(resized).astype(np.int64)


def run_one(root: Path, name: str, params: dict[str, Any], out_json: Path | None) -> dict[str, Any]:
    import torch

    from openlookout.ml import AnomalyDetector, OnnxDetector, evaluate, export_onnx
    from openlookout.ml.imageio import decode_image

    torch.set_num_threads(2)
    loaders = {"lfv-circuitboard": circuitboard, "lfv-cookies": cookies, "lfv-aliens": aliens}
    train, test, types = loaders[name](root / name)
    detector = AnomalyDetector(**params)
    with Image.open(train[0][0]) as first:
        size = detector.working_size_for(first.height, first.width)
    train_images = [decode_image(p, size) for p, _, _ in train]
    train_masks: list[np.ndarray | None] | None = None
    if any(m is not None for _, _, m in train):
        train_masks = [read_mask(m, size) if m is not None else None for _, _, m in train]
    started = time.perf_counter()
    detector.fit(train_images, [lab for _, lab, _ in train], train_masks, types or None)
    train_s = time.perf_counter() - started

    payloads = [p.read_bytes() for p, _, _ in test]
    labels = [lab for _, lab, _ in test]
    torch_preds = []
    torch_ms = []
    for data in payloads:
        t0 = time.perf_counter()
        torch_preds.append(detector.predict([decode_image(data, size)])[0])
        torch_ms.append((time.perf_counter() - t0) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(detector, Path(tmp) / "model.onnx")
        runner = OnnxDetector(onnx_path, threads=2)
        onnx_preds = []
        onnx_ms = []
        for data in payloads:
            t0 = time.perf_counter()
            onnx_preds.append(runner.predict_bytes(data))
            onnx_ms.append((time.perf_counter() - t0) * 1000)
    report = evaluate(torch_preds, labels, None, types or None)
    onnx_report = evaluate(onnx_preds, labels, None, types or None)
    result = {
        "dataset": name,
        "train_images": len(train),
        "test_images": len(test),
        "working_size": list(size),
        "components": list(detector.components_),
        "weights": detector.weights_source_,
        "cv_auroc": detector.cv_auroc_,
        "image_auroc": report.image_auroc,
        "average_precision": report.average_precision,
        "f1": report.f1,
        "precision": report.precision,
        "recall": report.recall,
        "onnx_auroc": onnx_report.image_auroc,
        "onnx_f1": onnx_report.f1,
        "max_score_diff": float(
            max(abs(a.score - b.score) for a, b in zip(torch_preds, onnx_preds, strict=True))
        ),
        "pixel_auroc": report.pixel_auroc,
        "cv_pixel_auroc": detector.cv_pixel_auroc_,
        "train_s": train_s,
        "torch_ms": float(np.median(torch_ms[1:] or torch_ms)),
        "onnx_ms": float(np.median(onnx_ms[1:] or onnx_ms)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average_1min": os.getloadavg()[0],  # timings are only meaningful on an idle machine
    }
    if out_json is not None:
        out_json.write_text(json.dumps(result))
    return result


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", required=True, type=Path)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--weights", default="pretrained")
    parser.add_argument("--only", action="append", choices=DATASETS)
    parser.add_argument("--set", action="append", default=[], help="extra detector parameter key=json")
    parser.add_argument("--json", type=Path, help="write all results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    params: dict[str, Any] = {"preset": args.preset, "weights": args.weights}
    for item in args.set:
        key, _, text = item.partition("=")
        value = _value(text)
        params[key] = tuple(value) if isinstance(value, list) else value
    if args.child:
        run_one(args.datasets, args.child, params, args.child_out)
        return
    results = []
    header = (
        f"{'dataset':18} {'AUROC':>6} {'F1':>5} {'P':>5} {'R':>5} {'pixAUROC':>8} {'train_s':>7} "
        f"{'torch_ms':>8} {'onnx_ms':>7} {'RSS_MB':>6}  components"
    )
    print(f"preset={args.preset} params={params}", flush=True)
    print(header, flush=True)
    for name in args.only or DATASETS:
        with tempfile.NamedTemporaryFile(suffix=".json") as handle:
            command = [
                sys.executable,
                __file__,
                "--datasets",
                str(args.datasets),
                "--child",
                name,
                "--child-out",
                handle.name,
                "--preset",
                args.preset,
                "--weights",
                args.weights,
            ]
            for item in args.set:
                command += ["--set", item]
            subprocess.run(command, check=True)
            result = json.loads(Path(handle.name).read_text())
        results.append(result)
        pix = "-" if result["pixel_auroc"] is None else f"{result['pixel_auroc']:.3f}"
        if result["pixel_auroc"] is None and result.get("cv_pixel_auroc") is not None:
            pix = f"cv {result['cv_pixel_auroc']:.3f}"  # held-out folds of the masked training images
        print(
            f"{name:18} {result['image_auroc']:6.3f} {result['f1']:5.2f} {result['precision']:5.2f} "
            f"{result['recall']:5.2f} {pix:>8} {result['train_s']:7.1f} {result['torch_ms']:8.1f} "
            f"{result['onnx_ms']:7.1f} {result['peak_rss_mb']:6.0f}  {'+'.join(result['components'])} "
            f"(cv {result['cv_auroc']:.3f}, {result['weights']}, onnx AUROC {result['onnx_auroc']:.3f}, "
            f"load {result['load_average_1min']:.1f})",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
