"""Soak: mixed load on loopback against a real server process, with one kill -9 and restart.

Set-up (not timed): a moto S3 endpoint in this process; ``openlookout serve`` as a child process
with a fresh data folder (fast training preset); two projects trained on synthetic 96x64 images
and hosted with 2 inference units each; then a bulk import of ``--bulk`` manifest lines (16,000 by
default) whose server peak RSS is printed.

Load (``--minutes``, 30 by default): ``--detect-threads`` threads (8) calling DetectAnomalies on
both models; one thread importing (single uploads through the upload route, and small
UpdateDatasetEntries batches from S3); one thread of list and describe calls; one thread making
garbage (updates that roll back, scratch datasets deleted). Half-way the server is killed with
SIGKILL and started again on the same data.

Afterwards: every acknowledged entry (an upload answered 200, an update that reached
UPDATE_COMPLETE) must be listed; ``openlookout gc --grace 0`` runs beside the server; every entry's
stored image and every live model file must still exist, and each model must still answer.

Prints: calls, error, throttle and unavailability rates, p50/p99 per operation, peak RSS (server
process and server plus inference units), blob counts before and after the collection, the
restart time. Exits 1 when anything acknowledged is lost.

Usage: python benchmarks/soak.py [--minutes 30] [--bulk 16000] [--detect-threads 8] [--port 0]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import random
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

WIDTH, HEIGHT = 96, 64
MODELS = ("soak-a", "soak-b")
IMPORTS = "soak-imports"
BULK = "soak-bulk"
SCRATCH = "soak-scratch"
BUCKET = "soak-data"
MB = 1024 * 1024


# --------------------------------------------------------------------------------------- images


def synthetic_png(seed: int, defect: bool = False) -> bytes:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(90, 170, size=(4, 6, 3), dtype=np.uint8)
    pixels = np.asarray(Image.fromarray(coarse).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)).copy()
    if defect:
        x, y = int(rng.integers(5, WIDTH - 30)), int(rng.integers(5, HEIGHT - 20))
        pixels[y : y + 12, x : x + 24] = (15, 15, 15)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def variant(png: bytes, tag: str) -> bytes:
    """Distinct bytes with the same pixels: a tEXt chunk after IHDR."""
    body = b"Comment\x00" + tag.encode()
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return png[:33] + chunk + png[33:]


def manifest_line(uri: str, label: str) -> str:
    return json.dumps(
        {
            "source-ref": uri,
            "anomaly-label": 1 if label == "anomaly" else 0,
            "anomaly-label-metadata": {
                "class-name": label,
                "type": "groundtruth/image-classification",
                "human-annotated": "yes",
                "confidence": 1,
                "job-name": "labeling-job/soak",
                "creation-date": "2024-01-01T00:00:00.000",
            },
        }
    )


# -------------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                found.extend(int(p) for p in handle.read().split())
    except OSError:
        pass
    return found


class Server:
    """``openlookout serve`` as a child process, with RSS sampling across its lives."""

    def __init__(self, port: int, data_dir: Path, s3_endpoint: str, env: dict[str, str]) -> None:
        self.port = port
        self.data_dir = data_dir
        self.s3_endpoint = s3_endpoint
        self.env = env
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.peak_process_kib = 0
        self.peak_tree_kib = 0
        self.phase_peak_kib = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self.log = open(data_dir.parent / "server.log", "ab")  # noqa: SIM115 - kept open for the run

    def start(self) -> float:
        started = time.monotonic()
        command = [
            sys.executable, "-m", "openlookout.cli", "serve",
            "--port", str(self.port), "--data-dir", str(self.data_dir),
            "--s3-endpoint-url", self.s3_endpoint,
        ]  # fmt: skip
        self.process = subprocess.Popen(command, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        if not self._sampler.is_alive():
            self._sampler.start()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/openlookout/health", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see server.log")
            time.sleep(0.2)
        raise RuntimeError("the server did not start within 180 s")

    def kill(self) -> None:
        assert self.process is not None
        self._account(self.process.pid)
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        self._stop.set()
        if self.process is not None and self.process.poll() is None:
            self._account(self.process.pid)
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def _account(self, pid: int) -> None:
        self.peak_process_kib = max(self.peak_process_kib, rss_kib(pid, "VmHWM"))

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            process = self.process
            if process is None or process.poll() is not None:
                continue
            own = rss_kib(process.pid)
            tree = own + sum(rss_kib(child) for child in children(process.pid))
            self.peak_process_kib = max(self.peak_process_kib, rss_kib(process.pid, "VmHWM"))
            self.peak_tree_kib = max(self.peak_tree_kib, tree)
            self.phase_peak_kib = max(self.phase_peak_kib, own)


# ------------------------------------------------------------------------------------- figures


@dataclass
class Stats:
    """Outcomes and latencies per operation, shared by the load threads."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outcomes: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, operation: str, outcome: str, seconds: float) -> None:
        with self.lock:
            self.outcomes[operation][outcome] += 1
            if outcome == "ok":
                self.latencies[operation].append(seconds)

    def report(self) -> list[str]:
        lines = [
            f"{'operation':<24} {'calls':>7} {'errors':>7} {'err %':>7} {'429 %':>7} {'down':>6} "
            f"{'p50 ms':>8} {'p99 ms':>8}"
        ]
        for operation in sorted(self.outcomes):
            counts = self.outcomes[operation]
            total = sum(counts.values())
            throttled = counts.get("ThrottlingException", 0)
            down = counts.get("unavailable", 0)
            expected = {"ok", "ThrottlingException", "unavailable", "ConflictException"}
            errors = sum(n for kind, n in counts.items() if kind not in expected)
            times = sorted(self.latencies[operation])
            p50 = statistics.median(times) * 1000 if times else float("nan")
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000 if times else float("nan")
            lines.append(
                f"{operation:<24} {total:>7} {errors:>7} {100 * errors / max(1, total):>6.2f}% "
                f"{100 * throttled / max(1, total):>6.2f}% {down:>6} {p50:>8.1f} {p99:>8.1f}"
            )
            odd = {k: v for k, v in counts.items() if k not in expected}
            if odd:
                lines.append(f"{'':<24} error kinds: {dict(odd)}")
        return lines


def timed(stats: Stats, operation: str, call: Callable[[], Any]) -> Any:
    from botocore.exceptions import ClientError, EndpointConnectionError
    from urllib3.exceptions import ProtocolError

    started = time.monotonic()
    try:
        result = call()
    except ClientError as exc:
        stats.record(operation, exc.response["Error"]["Code"], time.monotonic() - started)
        return None
    except (EndpointConnectionError, ProtocolError, ConnectionError, httpx.TransportError):
        stats.record(operation, "unavailable", time.monotonic() - started)
        time.sleep(0.2)
        return None
    except Exception as exc:  # botocore wraps some connection failures in its own types
        kind = "unavailable" if "connect" in type(exc).__name__.lower() else type(exc).__name__
        stats.record(operation, kind, time.monotonic() - started)
        return None
    stats.record(operation, "ok", time.monotonic() - started)
    return result


# --------------------------------------------------------------------------------------- set-up


def client(url: str) -> Any:
    from openlookout.client import lookoutvision_client

    return lookoutvision_client(url, retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60)


def put_images(s3: Any, prefix: str, count: int, seed: int, anomalies: int = 0) -> list[str]:
    lines = []
    for i in range(count):
        label = "anomaly" if i >= count - anomalies else "normal"
        key = f"{prefix}/{label}-{i}.png"
        s3.put_object(Bucket=BUCKET, Key=key, Body=synthetic_png(seed + i, defect=label == "anomaly"))
        lines.append(manifest_line(f"s3://{BUCKET}/{key}", label))
    return lines


def wait_dataset(lv: Any, project: str, kind: str = "train", timeout: float = 3600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found: dict[str, Any] = lv.describe_dataset(ProjectName=project, DatasetType=kind)[
                "DatasetDescription"
            ]
            if not found["Status"].endswith("_IN_PROGRESS"):
                return found
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"dataset {project}/{kind} did not finish")
        time.sleep(0.5)


def wait_model(lv: Any, project: str, wanted: set[str], timeout: float = 3600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = lv.describe_model(ProjectName=project, ModelVersion="1")["ModelDescription"]
        if found["Status"] in wanted:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"model {project} stuck in {found['Status']}")
        time.sleep(1)


def create_from_lines(lv: Any, s3: Any, project: str, kind: str, lines: list[str]) -> dict[str, Any]:
    key = f"manifests/{project}-{kind}-{time.time_ns()}.manifest"
    s3.put_object(Bucket=BUCKET, Key=key, Body="\n".join(lines).encode())
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Key": key}}}
    lv.create_dataset(ProjectName=project, DatasetType=kind, DatasetSource=source)
    return wait_dataset(lv, project, kind)


def train_and_host(lv: Any, s3: Any) -> None:
    s3.create_bucket(Bucket="soak-output")
    for index, project in enumerate(MODELS):
        lv.create_project(ProjectName=project)
        lines = put_images(s3, project, 30, seed=1000 * (index + 1), anomalies=10)
        described = create_from_lines(lv, s3, project, "train", lines)
        assert described["Status"] == "CREATE_COMPLETE", described
        lv.create_model(ProjectName=project, OutputConfig={"S3Location": {"Bucket": "soak-output"}})
    for project in MODELS:
        model = wait_model(lv, project, {"TRAINED", "TRAINING_FAILED"})
        assert model["Status"] == "TRAINED", model
        lv.start_model(ProjectName=project, ModelVersion="1", MinInferenceUnits=2, MaxInferenceUnits=2)
    for project in MODELS:
        model = wait_model(lv, project, {"HOSTED", "HOSTING_FAILED"})
        assert model["Status"] == "HOSTED", model


def bulk_import(lv: Any, s3: Any, server: Server, count: int) -> str:
    if count <= 0:
        return "bulk import: skipped"
    base = synthetic_png(7)
    lines = []
    for i in range(count):
        key = f"bulk/img-{i:05d}.png"
        s3.put_object(Bucket=BUCKET, Key=key, Body=variant(base, f"bulk {i}"))
        lines.append(manifest_line(f"s3://{BUCKET}/{key}", "normal"))
    lv.create_project(ProjectName=BULK)
    assert server.process is not None
    before = rss_kib(server.process.pid)
    server.phase_peak_kib = before
    started = time.monotonic()
    described = create_from_lines(lv, s3, BULK, "train", lines)
    took = time.monotonic() - started
    return (
        f"bulk import: {count} manifest lines -> {described['Status']} "
        f"({described.get('ImageStats', {}).get('Total')} images) in {took:.0f} s, "
        f"{count / took:.0f} images/s; server RSS {before / 1024:.0f} MB before, peak "
        f"{server.phase_peak_kib / 1024:.0f} MB during it (+{(server.phase_peak_kib - before) / 1024:.0f} MB)"
    )


# ----------------------------------------------------------------------------------------- load


@dataclass
class Shared:
    url: str
    stats: Stats = field(default_factory=Stats)
    stop: threading.Event = field(default_factory=threading.Event)
    acknowledged: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0

    def next_number(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter


def detect_loop(shared: Shared, bodies: list[bytes], seed: int) -> None:
    lv = client(shared.url)
    rng = random.Random(seed)
    while not shared.stop.is_set():
        project = rng.choice(MODELS)
        body = rng.choice(bodies)
        timed(
            shared.stats,
            "DetectAnomalies",
            lambda p=project, b=body: lv.detect_anomalies(
                ProjectName=p, ModelVersion="1", Body=b, ContentType="image/png"
            ),
        )


def list_loop(shared: Shared) -> None:
    lv = client(shared.url)
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("ListProjects", lambda: lv.list_projects(MaxResults=50)),
        (
            "ListDatasetEntries",
            lambda: lv.list_dataset_entries(ProjectName=IMPORTS, DatasetType="train", MaxResults=50),
        ),
        ("ListModels", lambda: lv.list_models(ProjectName=MODELS[0])),
        ("DescribeDataset", lambda: lv.describe_dataset(ProjectName=IMPORTS, DatasetType="train")),
        ("DescribeModel", lambda: lv.describe_model(ProjectName=MODELS[1], ModelVersion="1")),
    ]
    while not shared.stop.is_set():
        for name, call in calls:
            timed(shared.stats, name, call)
        time.sleep(0.05)


def upload(shared: Shared, project: str, kind: str, data: bytes, name: str) -> str | None:
    url = f"{shared.url}/openlookout/v1/projects/{project}/datasets/{kind}/images?name={name}&label=normal"
    started = time.monotonic()
    try:
        answer = httpx.post(url, content=data, headers={"Content-Type": "image/png"}, timeout=60)
    except httpx.TransportError:
        shared.stats.record("UploadImage", "unavailable", time.monotonic() - started)
        time.sleep(0.2)
        return None
    if answer.status_code == 200:
        shared.stats.record("UploadImage", "ok", time.monotonic() - started)
        return str(answer.json()["SourceRef"])
    kind_name = answer.headers.get("x-amzn-ErrorType", str(answer.status_code)).split(":")[0]
    shared.stats.record("UploadImage", kind_name, time.monotonic() - started)
    return None


def import_loop(shared: Shared, s3: Any) -> None:
    lv = client(shared.url)
    base = synthetic_png(99)
    while not shared.stop.is_set():
        n = shared.next_number()
        ref = upload(shared, IMPORTS, "train", variant(base, f"upload {n}"), f"upload-{n}.png")
        if ref is not None:
            with shared.lock:
                shared.acknowledged.add(ref)
        if n % 10 == 0:  # a small batch from S3 through UpdateDatasetEntries
            lines = []
            for i in range(5):
                key = f"updates/{n}-{i}.png"
                s3.put_object(Bucket=BUCKET, Key=key, Body=variant(base, f"update {n} {i}"))
                lines.append(manifest_line(f"s3://{BUCKET}/{key}", "normal"))
            changes = "\n".join(lines).encode()
            answer = timed(
                shared.stats,
                "UpdateDatasetEntries",
                lambda c=changes: lv.update_dataset_entries(
                    ProjectName=IMPORTS, DatasetType="test", Changes=c
                ),
            )
            if answer is not None:
                final = wait_dataset(lv, IMPORTS, "test", timeout=600)
                if final["Status"] == "UPDATE_COMPLETE":
                    with shared.lock:
                        shared.acknowledged.update(json.loads(line)["source-ref"] for line in lines)
        time.sleep(0.5)


def churn_loop(shared: Shared, s3: Any) -> None:
    """Garbage for the collector: updates that roll back, scratch datasets that are deleted."""
    lv = client(shared.url)
    base = synthetic_png(55)
    while not shared.stop.wait(5):
        n = shared.next_number()
        keys = []
        for i in range(3):
            key = f"churn/{n}-{i}.png"
            s3.put_object(Bucket=BUCKET, Key=key, Body=variant(base, f"churn {n} {i}"))
            keys.append(f"s3://{BUCKET}/{key}")
        bad = [manifest_line(k, "normal") for k in keys] + [
            manifest_line(f"s3://{BUCKET}/missing-{n}.png", "normal")
        ]
        bad_changes = "\n".join(bad).encode()
        timed(
            shared.stats,
            "UpdateDatasetEntries(bad)",
            lambda c=bad_changes: lv.update_dataset_entries(
                ProjectName=SCRATCH, DatasetType="train", Changes=c
            ),
        )
        with contextlib.suppress(Exception):
            wait_dataset(lv, SCRATCH, "train", timeout=300)
        if n % 3 == 0:
            scratch = variant(base, f"scratch {n}")
            upload(shared, SCRATCH, "test", scratch, f"scratch-{n}.png")
            timed(
                shared.stats,
                "DeleteDataset",
                lambda: lv.delete_dataset(ProjectName=SCRATCH, DatasetType="test"),
            )


# ------------------------------------------------------------------------------------ checking


def blob_counts(data_dir: Path) -> tuple[int, int, int]:
    """(content blobs, named objects, bytes) in the file blob store."""
    root = data_dir / "blobs"
    blobs = named = size = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            path = Path(folder) / name
            size += path.stat().st_size
            if "named" in path.relative_to(root).parts[:1]:
                named += 1
            else:
                blobs += 1
    return blobs, named, size


def listed_refs(lv: Any, project: str, kind: str) -> set[str]:
    refs: set[str] = set()
    for page in lv.get_paginator("list_dataset_entries").paginate(ProjectName=project, DatasetType=kind):
        refs.update(json.loads(line)["source-ref"] for line in page["DatasetEntries"])
    return refs


def missing_files(data_dir: Path) -> list[str]:
    """Stored images, masks and model files the database refers to but the blob store lacks."""
    root = data_dir / "blobs"
    connection = sqlite3.connect(f"file:{data_dir / 'openlookout.db'}?mode=ro", uri=True)
    try:
        shas = [row[0] for row in connection.execute("SELECT image_sha256 FROM dataset_entries")]
        shas += [
            r[0]
            for r in connection.execute(
                "SELECT mask_sha256 FROM dataset_entries WHERE mask_sha256 IS NOT NULL"
            )
        ]
        named = [
            r[0]
            for r in connection.execute(
                "SELECT onnx_blob FROM models WHERE deleted_at IS NULL AND onnx_blob IS NOT NULL"
            )
        ]
    finally:
        connection.close()
    lost = [s for s in shas if not (root / s[:2] / s[2:4] / s).is_file()]
    lost += [n for n in named if not (root / "named" / n).is_file()]
    return lost


# ----------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument(
        "--bulk", type=int, default=16_000, help="manifest lines of the bulk import (0: none)"
    )
    parser.add_argument("--detect-threads", type=int, default=8)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, moto_port = moto.get_host_and_port()
    s3_endpoint = f"http://{host}:{moto_port}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    folder = Path(tempfile.mkdtemp(prefix="openlookout-soak-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLOOKOUT_")}
    env.update(
        OPENLOOKOUT_TRAINING_PRESET="fast",
        OPENLOOKOUT_TRAINING_IMAGE_SIZE="96",
        OPENLOOKOUT_TRAINING_THREADS="2",
    )
    server = Server(args.port or free_port(), folder / "data", s3_endpoint, env)
    print(f"soak: data in {folder}; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores at the start")
    try:
        first_start = server.start()
        lv = client(server.url)
        started = time.monotonic()
        train_and_host(lv, s3)
        print(f"set-up: two models trained and hosted (2 units each) in {time.monotonic() - started:.0f} s")
        print(bulk_import(lv, s3, server, args.bulk))
        for project in (IMPORTS, SCRATCH):
            lv.create_project(ProjectName=project)
            lv.create_dataset(ProjectName=project, DatasetType="train")
        lv.create_dataset(ProjectName=IMPORTS, DatasetType="test")

        shared = Shared(server.url)
        bodies = [synthetic_png(5000 + i, defect=i % 3 == 0) for i in range(20)]
        threads = [
            threading.Thread(target=detect_loop, args=(shared, bodies, i)) for i in range(args.detect_threads)
        ]
        threads += [
            threading.Thread(target=list_loop, args=(shared,)),
            threading.Thread(target=import_loop, args=(shared, s3)),
            threading.Thread(target=churn_loop, args=(shared, s3)),
        ]
        duration = args.minutes * 60
        load_started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(duration / 2)
        server.kill()
        killed_at = time.monotonic()
        restart = server.start()
        print(f"kill -9 at {killed_at - load_started:.0f} s; the server answered again after {restart:.1f} s")
        time.sleep(max(0.0, duration - (time.monotonic() - load_started)))
        shared.stop.set()
        for thread in threads:
            thread.join(timeout=600)
        load_seconds = time.monotonic() - load_started
        load_end = os.getloadavg()

        for kind in ("train", "test"):
            wait_dataset(lv, IMPORTS, kind)
        present = listed_refs(lv, IMPORTS, "train") | listed_refs(lv, IMPORTS, "test")
        lost = sorted(shared.acknowledged - present)
        before = blob_counts(server.data_dir)
        gc = subprocess.run(
            [
                sys.executable,
                "-m",
                "openlookout.cli",
                "gc",
                "--grace",
                "0",
                "--data-dir",
                str(server.data_dir),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        after = blob_counts(server.data_dir)
        missing = missing_files(server.data_dir)
        answers = [
            timed(
                shared.stats,
                "DetectAnomalies(after gc)",
                lambda p=p: lv.detect_anomalies(
                    ProjectName=p, ModelVersion="1", Body=bodies[0], ContentType="image/png"
                ),
            )
            for p in MODELS
        ]
    finally:
        server.stop()
        moto.stop()

    print(
        f"load: {load_seconds / 60:.1f} min; load average at the end "
        f"{load_end[0]:.2f} / {load_end[1]:.2f} / {load_end[2]:.2f}"
    )
    for line in shared.stats.report():
        print(line)
    print(f"server start {first_start:.1f} s, restart after kill -9 {restart:.1f} s")
    print(
        f"peak RSS: server process {server.peak_process_kib / 1024:.0f} MB, "
        f"server plus inference units {server.peak_tree_kib / 1024:.0f} MB"
    )
    print(f"blobs before gc: {before[0]} blobs, {before[1]} named objects, {before[2] / MB:.1f} MB")
    print(f"blobs after gc:  {after[0]} blobs, {after[1]} named objects, {after[2] / MB:.1f} MB")
    print(f"gc: {gc.stderr.strip()} {gc.stdout.strip()}")
    print(
        f"acknowledged entries: {len(shared.acknowledged)}; missing from the datasets: {len(lost)}; "
        f"stored files missing after gc: {len(missing)}; models answering after gc: "
        f"{sum(a is not None for a in answers)}/{len(MODELS)}"
    )
    ok = not lost and not missing and gc.returncode == 0 and all(a is not None for a in answers)
    print(
        "RESULT:",
        "nothing acknowledged was lost" if ok else f"FAILED (lost {lost[:5]}, missing {missing[:5]})",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
