"""DetectAnomalies on the Ray engine against the local engine: throughput and p50/p99 with 1, 2 and
4 inference units on this machine.

Starts a moto S3 endpoint (the shared blob store) and a local Ray cluster (``ray start --head`` in
a temporary folder, 4 logical CPUs, stopped at the end), trains one model through a server with
``--engine ray`` (the training runs as a Ray actor), then hosts that model with N units on each
engine in turn (a server with ``--engine ray``, then one with ``--engine local`` on the same
database and blob store; one onnxruntime thread per unit on both, ``ray_unit_cpus`` 1) and sends
DetectAnomalies from 2N client threads for ``--seconds`` each. It prints a table with the ratio
Ray/local, and the time one unit spends on one image (the per-replica cost).

On a 2-core machine the ceiling is the cores: more than two units share them, so neither engine
can scale past it here. On a cluster, throughput grows by roughly one per-replica rate for each
replica on a core of its own, less what the API servers cost (see docs/scale-out.md).

Usage: python benchmarks/scale_out.py [--seconds 8] [--units 1,2,4] [--size 512x384]
This is a measurement, not a test: it prints figures and never fails on a slow result.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.helpers: the local Ray cluster

from tests.helpers.ray_cluster import local_ray_cluster

PROJECT = "scaling"


@dataclass(frozen=True)
class Row:
    engine: str
    units: int
    throughput: float
    p50_ms: float
    p99_ms: float


def synthetic_jpeg(width: int, height: int, seed: int, defect: bool) -> bytes:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(100, 180, size=(8, 12, 3), dtype=np.uint8)
    image = np.asarray(
        Image.fromarray(coarse, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    ).copy()
    if defect:
        x, y = int(rng.integers(20, width // 2)), int(rng.integers(20, height // 2))
        image[y : y + height // 12, x : x + width // 6] = (20, 20, 20)
    buffer = io.BytesIO()
    Image.fromarray(image, "RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@contextmanager
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        moto.stop()


@contextmanager
def server(settings: Any) -> Iterator[str]:
    """An OpenLookout server for ``settings`` on a free loopback port, in this process."""
    import uvicorn

    from openlookout.api.app import create_app
    from openlookout.runtime import build_runtime, close_runtime

    runtime = build_runtime(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(create_app(runtime), log_level="warning", access_log=False))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        close_runtime(runtime)


def client(url: str) -> Any:
    from openlookout.client import lookoutvision_client

    return lookoutvision_client(url, retries={"total_max_attempts": 1})


def wait_model(lv: Any, wanted: set[str], timeout: float = 1800) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = lv.describe_model(ProjectName=PROJECT, ModelVersion="1")["ModelDescription"]
        if found["Status"] in wanted:
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"the model is still {found['Status']}: {found.get('StatusMessage')}")
        time.sleep(0.25)


def train(url: str, s3_endpoint: str, width: int, height: int) -> float:
    import boto3

    lv = client(url)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="bench-output")
    lv.create_project(ProjectName=PROJECT)
    lines = []
    for index in range(30):
        label = "normal" if index < 20 else "anomaly"
        key = f"images/{label}-{index}.jpg"
        s3.put_object(
            Bucket="bench-data", Key=key, Body=synthetic_jpeg(width, height, index, label == "anomaly")
        )
        metadata = {"class-name": label, "type": "groundtruth/image-classification", "human-annotated": "yes"}
        line = {
            "source-ref": f"s3://bench-data/{key}",
            "anomaly-label": 1 if label == "anomaly" else 0,
            "anomaly-label-metadata": metadata,
        }
        lines.append(json.dumps(line))
    s3.put_object(Bucket="bench-data", Key="train.manifest", Body="\n".join(lines).encode())
    lv.create_dataset(
        ProjectName=PROJECT,
        DatasetType="train",
        DatasetSource={
            "GroundTruthManifest": {"S3Object": {"Bucket": "bench-data", "Key": "train.manifest"}}
        },
    )
    while lv.describe_dataset(ProjectName=PROJECT, DatasetType="train")["DatasetDescription"][
        "Status"
    ].endswith("IN_PROGRESS"):
        time.sleep(0.2)
    started = time.monotonic()
    lv.create_model(ProjectName=PROJECT, OutputConfig={"S3Location": {"Bucket": "bench-output"}})
    trained = wait_model(lv, {"TRAINED", "TRAINING_FAILED"})
    if trained["Status"] != "TRAINED":
        raise SystemExit(f"training failed: {trained.get('StatusMessage')}")
    return time.monotonic() - started


def measure(url: str, engine: str, units: int, body: bytes, seconds: float) -> Row:
    lv = client(url)
    lv.start_model(ProjectName=PROJECT, ModelVersion="1", MinInferenceUnits=units, MaxInferenceUnits=units)
    hosted = wait_model(lv, {"HOSTED", "HOSTING_FAILED"}, timeout=600)
    if hosted["Status"] != "HOSTED":
        raise SystemExit(f"hosting {units} units on {engine} failed: {hosted.get('StatusMessage')}")
    for _ in range(2 * units):  # every unit loads and warms up
        lv.detect_anomalies(ProjectName=PROJECT, ModelVersion="1", Body=body, ContentType="image/jpeg")
    latencies: list[float] = []
    refused = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        nonlocal refused
        own = client(url)
        while time.monotonic() < stop:
            begin = time.perf_counter()
            try:
                own.detect_anomalies(
                    ProjectName=PROJECT, ModelVersion="1", Body=body, ContentType="image/jpeg"
                )
            except Exception:
                with lock:
                    refused += 1
                continue
            with lock:
                latencies.append((time.perf_counter() - begin) * 1000)

    threads = [threading.Thread(target=worker) for _ in range(2 * units)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    lv.stop_model(ProjectName=PROJECT, ModelVersion="1")
    wait_model(lv, {"TRAINED"}, timeout=300)
    latencies.sort()
    if refused:
        print(f"  ({engine}, {units} units: {refused} requests refused)")
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return Row(engine, units, len(latencies) / elapsed, statistics.median(latencies), p99)


def unit_cost(url: str, body: bytes, requests: int = 40) -> float:
    """Median milliseconds of one request with one unit and one client (the per-replica cost)."""
    lv = client(url)
    lv.start_model(ProjectName=PROJECT, ModelVersion="1", MinInferenceUnits=1)
    wait_model(lv, {"HOSTED"}, timeout=600)
    times = []
    for _ in range(requests + 3):
        begin = time.perf_counter()
        lv.detect_anomalies(ProjectName=PROJECT, ModelVersion="1", Body=body, ContentType="image/jpeg")
        times.append((time.perf_counter() - begin) * 1000)
    lv.stop_model(ProjectName=PROJECT, ModelVersion="1")
    wait_model(lv, {"TRAINED"}, timeout=300)
    return statistics.median(times[3:])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--units", default="1,2,4")
    parser.add_argument("--size", default="512x384")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    unit_counts = [int(v) for v in args.units.split(",")]
    from openlookout.settings import Settings

    body = synthetic_jpeg(width, height, 1000, True)
    rows: list[Row] = []
    with (
        moto_endpoint() as s3_endpoint,
        local_ray_cluster(num_cpus=4) as cluster,
        tempfile.TemporaryDirectory(prefix="openlookout-scale-") as folder,
    ):
        import boto3

        boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
            Bucket="bench-data"
        )
        common = {
            "training_preset": "fast",
            "inference_threads": 1,
            "server_inference_units": max(unit_counts),
            "max_inference_units": max(unit_counts),
        }
        base = Settings(
            data_dir=Path(folder) / "data",
            s3_endpoint_url=s3_endpoint,
            blob_url="s3://bench-data/blobs",
            workers=2,
            extra=common,
        )
        on_ray = base.with_overrides(
            engine="ray", ray_address=cluster.address, ray_unit_cpus=1.0, ray_training_cpus=2.0
        )
        with server(on_ray) as url:
            seconds = train(url, s3_endpoint, width, height)
            print(f"training on Ray (fast preset, 30 images {width}x{height}): {seconds:.1f} s")
            ray_cost = unit_cost(url, body)
            rows += [measure(url, "ray", units, body, args.seconds) for units in unit_counts]
        with server(base) as url:
            local_cost = unit_cost(url, body)
            rows += [measure(url, "local", units, body, args.seconds) for units in unit_counts]
    print(f"one request, one unit, one client: ray {ray_cost:.1f} ms, local {local_cost:.1f} ms (p50)")
    print(f"cores on this machine: {os.cpu_count()}; each unit runs onnxruntime on 1 thread")
    print()
    print(
        "| units | ray images/s | ray p50 ms | ray p99 ms "
        "| local images/s | local p50 ms | local p99 ms | ray/local |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    by_key = {(row.engine, row.units): row for row in rows}
    for units in unit_counts:
        ray_row, local_row = by_key[("ray", units)], by_key[("local", units)]
        print(
            f"| {units} | {ray_row.throughput:.1f} | {ray_row.p50_ms:.1f} | {ray_row.p99_ms:.1f} "
            f"| {local_row.throughput:.1f} | {local_row.p50_ms:.1f} | {local_row.p99_ms:.1f} "
            f"| {ray_row.throughput / local_row.throughput:.2f} |"
        )


if __name__ == "__main__":
    main()
