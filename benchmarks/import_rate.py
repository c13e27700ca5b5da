"""Import rate benchmark: how many images per second the server-side folder import takes in.

Generates deterministic synthetic 1024x1024 JPEGs (800 normal, 200 anomaly by default) in a temporary
folder, starts ``openlookout serve`` as a subprocess on a temporary data folder, asks it to import
the folder through ``POST /openlookout/v1/projects/{p}/datasets/train/import`` and polls
DescribeDataset until the dataset reaches a final state. Prints images/s against the goal (100/s).

Usage: python benchmarks/import_rate.py [--images 1000] [--size 1024] [--workers 4]
This is a measurement, not a test: it prints figures and never fails on a slow result.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from openlookout.cli.api import ApiClient

GOAL_IMAGES_PER_SECOND = 100.0
FINAL_FAILURES = {"CREATE_FAILED", "UPDATE_FAILED_ROLLBACK_COMPLETE"}


@functools.cache
def _base_textures(size: int, count: int = 8) -> list[np.ndarray]:
    """A few smooth textures with fine grain (computed once per process)."""
    rng = np.random.default_rng(size)
    textures = []
    for _ in range(count):
        coarse = rng.integers(90, 200, size=(16, 16, 3), dtype=np.uint8)
        smooth = np.asarray(Image.fromarray(coarse, "RGB").resize((size, size), Image.Resampling.BICUBIC))
        grain = rng.integers(-6, 7, size=smooth.shape, dtype=np.int16)
        textures.append(np.clip(smooth.astype(np.int16) + grain, 0, 255).astype(np.uint8))
    return textures


def synthetic_jpeg(seed: int, size: int, anomalous: bool) -> bytes:
    """A textured picture, distinct per seed (the seed is drawn as a row of blocks), with a dark
    scratch when ``anomalous``."""
    rng = np.random.default_rng(seed)
    textures = _base_textures(size)
    pixels = textures[seed % len(textures)].copy()
    block = max(4, size // 64)
    for bit in range(24):
        if seed >> bit & 1:
            pixels[block : 2 * block, (bit + 1) * block : (bit + 2) * block] = 30
    if anomalous:
        row = int(rng.integers(size // 4, 3 * size // 4))
        start = int(rng.integers(0, size // 2))
        pixels[row : row + max(2, size // 128), start : start + size // 3] = 20
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def _write_one(args: tuple[Path, int, int, bool]) -> int:
    path, seed, size, anomalous = args
    data = synthetic_jpeg(seed, size, anomalous)
    path.write_bytes(data)
    return len(data)


def write_labeled_folder(root: Path, count: int, size: int, anomaly_share: float = 0.2) -> int:
    """``root/normal/*.jpg`` and ``root/anomaly/*.jpg``; returns the total bytes written."""
    anomalies = int(count * anomaly_share)
    jobs: list[tuple[Path, int, int, bool]] = []
    for index in range(count):
        anomalous = index < anomalies
        folder = root / ("anomaly" if anomalous else "normal")
        folder.mkdir(parents=True, exist_ok=True)
        jobs.append((folder / f"img_{index:05d}.jpg", index, size, anomalous))
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return sum(pool.map(_write_one, jobs, chunksize=16))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(data_dir: Path, allow_root: Path, *, workers: int) -> Iterator[str]:
    """``openlookout serve`` in a subprocess; yields its URL once the health route answers."""
    port = free_port()
    command = [
        sys.executable, "-m", "openlookout.cli", "serve",
        "--port", str(port), "--data-dir", str(data_dir),
        "--allow-local-root", str(allow_root), "--workers", str(workers),
    ]  # fmt: skip
    log_path = data_dir.parent / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        try:
            _wait_healthy(url, process, log_path)
            print(f"server ready in {time.perf_counter() - started:.1f} s at {url}")
            yield url
        finally:
            stopping = time.perf_counter()
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            print(f"server stopped in {time.perf_counter() - stopping:.1f} s")


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited early:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url + "/openlookout/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer within {timeout:.0f} s")


def import_folder(
    api: ApiClient, project: str, folder: Path, *, timeout: float
) -> tuple[dict[str, Any], float]:
    """Start the server-side import and poll until final; returns (description, seconds)."""
    api.lv.create_project(ProjectName=project)
    started = time.perf_counter()
    api.extension_json(
        "POST", ["projects", project, "datasets", "train", "import"], {"Source": str(folder), "Labeled": True}
    )
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = api.lv.describe_dataset(ProjectName=project, DatasetType="train")[
            "DatasetDescription"
        ]
        if not str(description.get("Status", "")).endswith("_IN_PROGRESS"):
            return description, time.perf_counter() - started
        if time.monotonic() > deadline:
            raise SystemExit(f"the import did not finish within {timeout:.0f} s: {description}")
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1024, help="side of the square images in pixels")
    parser.add_argument("--workers", type=int, default=4, help="server job worker threads")
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args(argv)

    print("(temporary files are removed at the end; on slow disks that takes a while)")
    with tempfile.TemporaryDirectory(prefix="olk-import-bench-") as tmp:
        root = Path(tmp)
        images = root / "images"
        t0 = time.perf_counter()
        total_bytes = write_labeled_folder(images, args.images, args.size)
        print(
            f"generated {args.images} JPEGs of {args.size}x{args.size} "
            f"({total_bytes / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s"
        )
        with running_server(root / "data", images, workers=args.workers) as url:
            api = ApiClient(url, "us-east-1")
            description, seconds = import_folder(api, "import-bench", images, timeout=args.timeout)
            api.close()
        stats = description.get("ImageStats", {})
        imported = int(stats.get("Total", 0))
        rate = imported / seconds if seconds > 0 else 0.0
        print(f"status: {description.get('Status')} {description.get('StatusMessage') or ''}".rstrip())
        print(f"imported {imported}/{args.images} images in {seconds:.2f} s")
        print(f"import rate: {rate:.1f} images/s (goal >= {GOAL_IMAGES_PER_SECOND:.0f}/s: "
              f"{'met' if rate >= GOAL_IMAGES_PER_SECOND else 'NOT met'})")  # fmt: skip
        if description.get("Status") in FINAL_FAILURES or imported < args.images:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
