"""ListDatasetEntries latency benchmark: milliseconds per page of 100 entries over real HTTP.

Builds a dataset of 16,000 entries (tiny distinct 64x64 PNGs imported from a temporary folder by
the server-side import route), then walks every page with a real boto3 client several times and
prints p50/p90/p99 latency per page, unfiltered and with filters, against the goal (p50 <= 50 ms).

Usage: python benchmarks/list_latency.py [--entries 16000] [--rounds 3]
This is a measurement, not a test: it prints figures and never fails on a slow result.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_rate import import_folder, running_server

from openlookout.cli.api import ApiClient

GOAL_P50_MS = 50.0
PAGE_SIZE = 100


def tiny_png(index: int, size: int = 64) -> bytes:
    """A 64x64 PNG whose pixels encode ``index`` (so every file is distinct)."""
    rng = np.random.default_rng(index)
    pixels = rng.integers(100, 160, size=(size, size, 3), dtype=np.uint8)
    pixels[0, :4] = np.frombuffer(index.to_bytes(12, "big"), dtype=np.uint8).reshape(4, 3)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "PNG", compress_level=1)
    return out.getvalue()


def write_tiny_folder(root: Path, count: int, anomaly_share: float = 0.25) -> None:
    anomalies = int(count * anomaly_share)
    for label in ("normal", "anomaly"):
        (root / label).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        label = "anomaly" if index < anomalies else "normal"
        (root / label / f"part_{index:06d}.png").write_bytes(tiny_png(index))


def page_latencies(
    list_page: Callable[..., dict[str, Any]], filters: dict[str, Any]
) -> tuple[list[float], int]:
    """Walk every page once; returns (milliseconds per page, entries seen)."""
    timings: list[float] = []
    seen = 0
    token: str | None = None
    while True:
        params = dict(filters, MaxResults=PAGE_SIZE, **({"NextToken": token} if token else {}))
        started = time.perf_counter()
        page = list_page(**params)
        timings.append((time.perf_counter() - started) * 1000.0)
        seen += len(page.get("DatasetEntries", []))
        token = page.get("NextToken")
        if not token:
            return timings, seen


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def report(name: str, timings: list[float], seen: int) -> float:
    p50 = statistics.median(timings)
    print(
        f"{name:<28} pages={len(timings):>4} entries/round={seen:>6}  p50={p50:6.1f} ms  "
        f"p90={percentile(timings, 0.9):6.1f} ms  p99={percentile(timings, 0.99):6.1f} ms"
    )
    return p50


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=16000)
    parser.add_argument("--rounds", type=int, default=3, help="times every page is listed")
    parser.add_argument("--workers", type=int, default=4, help="server job worker threads")
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args(argv)

    print("(temporary files are removed at the end; on slow disks that takes a while)")
    with tempfile.TemporaryDirectory(prefix="olk-list-bench-") as tmp:
        root = Path(tmp)
        images = root / "images"
        t0 = time.perf_counter()
        write_tiny_folder(images, args.entries)
        print(f"generated {args.entries} tiny PNGs in {time.perf_counter() - t0:.1f} s")
        with running_server(root / "data", images, workers=args.workers) as url:
            api = ApiClient(url, "us-east-1")
            description, seconds = import_folder(api, "list-bench", images, timeout=args.timeout)
            total = int(description.get("ImageStats", {}).get("Total", 0))
            print(f"dataset: {description.get('Status')}, {total} entries, imported in {seconds:.1f} s")
            if total < args.entries:
                print(f"the import stopped short: {description.get('StatusMessage')}")
                return 1
            base = {"ProjectName": "list-bench", "DatasetType": "train"}
            scenarios: dict[str, dict[str, Any]] = {
                "all entries": base,
                "anomalyClass=anomaly": dict(base, AnomalyClass="anomaly"),
                "labeled=true": dict(base, Labeled=True),
                "sourceRefContains=part_00": dict(base, SourceRefContains="part_00"),
            }
            p50_all = 0.0
            for name, filters in scenarios.items():
                timings: list[float] = []
                seen = 0
                for _ in range(args.rounds):
                    round_timings, seen = page_latencies(api.lv.list_dataset_entries, filters)
                    timings.extend(round_timings)
                p50 = report(name, timings, seen)
                if name == "all entries":
                    p50_all = p50
            api.close()
        verdict = "met" if p50_all <= GOAL_P50_MS else "NOT met"
        print(f"goal: p50 <= {GOAL_P50_MS:.0f} ms per page of {PAGE_SIZE} (all entries): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
