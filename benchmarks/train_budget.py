"""Training time and memory for a project of a given size (the "300 images in 10 minutes" budget).

Builds a training set of ``--count`` images (normals and anomalies in the folder's proportion,
masks where the folder has them) and a validation set of ``--validation`` images from a folder
laid out as ``normal/``, ``anomaly/`` and optionally ``masks/<stem>.png``, fits the default
detector with ``--threads`` torch threads and prints the wall time of each phase (from the
detector's progress messages) and the process's peak RSS. Usage::

    python benchmarks/train_budget.py --folder ../shared/devsets/bsdata_ballscrew --count 300

This is a measurement, not a test: it prints figures and never fails on a slow result.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
from PIL import Image

SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def _items(folder: Path) -> list[tuple[Path, int, Path | None]]:
    items: list[tuple[Path, int, Path | None]] = []
    for label, name in ((0, "normal"), (1, "anomaly")):
        for path in sorted((folder / name).iterdir()):
            if path.suffix.lower() in SUFFIXES:
                mask = folder / "masks" / f"{path.stem}.png"
                items.append((path, label, mask if mask.exists() else None))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--validation", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--preset", default="default")
    args = parser.parse_args()

    import torch

    from openlookout.ml import AnomalyDetector
    from openlookout.ml.detector import Validation, defect_area
    from openlookout.ml.imageio import decode_image

    torch.set_num_threads(args.threads)
    items = _items(args.folder)
    order = np.random.default_rng(0).permutation(len(items))
    wanted = args.count + args.validation
    if len(items) < wanted:
        order = np.resize(order, wanted)  # small folders: images repeat
    chosen = [items[i] for i in order[:wanted]]
    detector = AnomalyDetector(preset=args.preset)
    segmentation = any(m is not None for _, _, m in chosen)
    full = [
        np.asarray(Image.open(m).convert("L")) > 127 for _, label, m in chosen[: args.count] if m and label
    ]
    with Image.open(chosen[0][0]) as first:
        size = detector.working_size_for(first.height, first.width, defect_area=defect_area(full))

    def mask(path: Path | None, label: int) -> np.ndarray | None:
        if not segmentation:
            return None
        if path is None:
            return np.zeros(size, np.int64) if label == 0 else None
        with Image.open(path) as pil:
            resized = pil.convert("L").resize((size[1], size[0]), Image.Resampling.NEAREST)
        return (np.asarray(resized) > 127).astype(np.int64)

    images = [decode_image(p, size) for p, _, _ in chosen]
    labels = [label for _, label, _ in chosen]
    masks = [mask(m, label) for _, label, m in chosen] if segmentation else None
    n = args.count
    marks: list[tuple[float, str]] = []
    started = time.perf_counter()

    def progress(message: str) -> None:
        if "(step " not in message:  # phases only, not every 25th fine-tuning step
            marks.append((time.perf_counter() - started, message))

    detector.fit(
        images[:n],
        labels[:n],
        masks[:n] if masks else None,
        ["anomaly"] if segmentation else None,
        validation=Validation(images[n:], labels[n:], masks[n:] if masks else None),
        progress=progress,
    )
    total = time.perf_counter() - started
    print(
        f"{n} training + {args.validation} validation images of {args.folder.name} at {size[1]}x{size[0]}, "
        f"{args.threads} threads, {detector.train_steps_} fine-tuning steps"
    )
    for (at, message), (end, _) in zip(marks, [*marks[1:], (total, "")], strict=True):
        print(f"  {end - at:7.1f} s  {message}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total {total:.1f} s (goal <= 600 s); peak RSS {peak:.0f} MB (goal <= 3072 MB)")


if __name__ == "__main__":
    main()
