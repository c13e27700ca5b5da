"""DetectAnomalies benchmark through HTTP: latency p50/p99 for a 2000x1334 JPEG and throughput with
1 and 2 inference units.

Starts an in-process server (uvicorn thread, temporary data folder, a moto S3 endpoint for the
evaluation output), uploads synthetic 2000x1334 JPEGs (20 normal, 10 with defects) through the
upload extension route, trains a model (``--preset``, default ``default``), hosts it and measures with
a real boto3 client. Goal: p50 <= 150 ms on 2 cores.

Usage: python benchmarks/detect_latency.py [--requests 60] [--seconds 10] [--preset default|fast|highres]
This is a measurement, not a test: it prints figures and never fails on a slow result.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

GOAL_P50_MS = 150.0
WIDTH, HEIGHT = 2000, 1334


@dataclass
class Local:
    url: str
    runtime: Any
    s3_endpoint: str


@contextmanager
def local_server(extra: dict[str, Any], allow_local_roots: tuple[Path, ...] = ()) -> Iterator[Local]:
    """A moto S3 endpoint and an OpenLookout server on free loopback ports, in this process."""
    import uvicorn
    from moto.server import ThreadedMotoServer

    from openlookout.api.app import create_app
    from openlookout.runtime import build_runtime, close_runtime
    from openlookout.settings import Settings

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    s3_endpoint = f"http://{host}:{port}"
    with tempfile.TemporaryDirectory(prefix="openlookout-bench-") as folder:
        settings = Settings(
            data_dir=Path(folder) / "data",
            s3_endpoint_url=s3_endpoint,
            allow_local_roots=allow_local_roots,
            workers=2,
            extra=extra,
        )
        runtime = build_runtime(settings)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(create_app(runtime), log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        try:
            yield Local(f"http://127.0.0.1:{sock.getsockname()[1]}", runtime, s3_endpoint)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            close_runtime(runtime)
            moto.stop()


def clients(local: Local) -> tuple[Any, Any]:
    import boto3

    from openlookout.client import lookoutvision_client

    lv = lookoutvision_client(local.url, retries={"total_max_attempts": 1})
    s3 = boto3.client("s3", endpoint_url=local.s3_endpoint, region_name="us-east-1")
    return lv, s3


def synthetic_jpeg(seed: int, defect: bool) -> bytes:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(100, 180, size=(12, 18, 3), dtype=np.uint8)
    image = np.asarray(
        Image.fromarray(coarse, "RGB").resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    ).copy()
    if defect:
        x, y = int(rng.integers(200, WIDTH - 400)), int(rng.integers(200, HEIGHT - 300))
        image[y : y + 60, x : x + 300] = (20, 20, 20)
    buffer = io.BytesIO()
    Image.fromarray(image, "RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def wait_model(lv: Any, project: str, wanted: set[str], timeout: float = 7200) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = lv.describe_model(ProjectName=project, ModelVersion="latest")[
            "ModelDescription"
        ]
        if found["Status"] in wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def throughput(lv: Any, project: str, body: bytes, seconds: float, clients_count: int = 4) -> float:
    done = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        nonlocal done
        while time.monotonic() < stop:
            lv.detect_anomalies(ProjectName=project, ModelVersion="1", Body=body, ContentType="image/jpeg")
            with lock:
                done += 1

    threads = [threading.Thread(target=worker) for _ in range(clients_count)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done / (time.monotonic() - started)


def host(lv: Any, project: str, units: int) -> None:
    lv.start_model(ProjectName=project, ModelVersion="1", MinInferenceUnits=units)
    status = wait_model(lv, project, {"HOSTED", "HOSTING_FAILED"}, timeout=300)["Status"]
    if status != "HOSTED":
        raise SystemExit(f"hosting failed: {status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--preset", default="default", choices=["default", "fast", "highres"])
    args = parser.parse_args()
    with local_server({"training_preset": args.preset}) as local:
        lv, s3 = clients(local)
        s3.create_bucket(Bucket="bench-output")
        lv.create_project(ProjectName="latency")
        with httpx.Client(timeout=60) as http:
            for index in range(30):
                label = "normal" if index < 20 else "anomaly"
                http.post(
                    f"{local.url}/openlookout/v1/projects/latency/datasets/train/images",
                    params={"name": f"img-{index}.jpg", "label": label},
                    content=synthetic_jpeg(index, label == "anomaly"),
                    headers={"Content-Type": "image/jpeg"},
                ).raise_for_status()
        started = time.monotonic()
        lv.create_model(ProjectName="latency", OutputConfig={"S3Location": {"Bucket": "bench-output"}})
        trained = wait_model(lv, "latency", {"TRAINED", "TRAINING_FAILED"})
        print(
            f"training ({args.preset}, 30 images {WIDTH}x{HEIGHT}): "
            f"{time.monotonic() - started:.1f} s, {trained['Status']}"
        )
        if trained["Status"] != "TRAINED":
            raise SystemExit(trained.get("StatusMessage"))

        body = synthetic_jpeg(1000, True)
        host(lv, "latency", 1)
        lv.detect_anomalies(ProjectName="latency", ModelVersion="1", Body=body, ContentType="image/jpeg")
        latencies = []
        for _ in range(args.requests):
            begin = time.perf_counter()
            lv.detect_anomalies(ProjectName="latency", ModelVersion="1", Body=body, ContentType="image/jpeg")
            latencies.append((time.perf_counter() - begin) * 1000)
        latencies.sort()
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
        verdict = "meets" if p50 <= GOAL_P50_MS else "misses"
        print(
            f"DetectAnomalies {WIDTH}x{HEIGHT} JPEG over HTTP: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
            f"({verdict} the {GOAL_P50_MS:.0f} ms goal)"
        )
        print(f"throughput, 1 inference unit: {throughput(lv, 'latency', body, args.seconds):.1f} images/s")
        lv.stop_model(ProjectName="latency", ModelVersion="1")
        wait_model(lv, "latency", {"TRAINED"}, timeout=60)
        host(lv, "latency", 2)
        print(f"throughput, 2 inference units: {throughput(lv, 'latency', body, args.seconds):.1f} images/s")
        lv.stop_model(ProjectName="latency", ModelVersion="1")
        wait_model(lv, "latency", {"TRAINED"}, timeout=60)


if __name__ == "__main__":
    main()
