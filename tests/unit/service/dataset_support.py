"""Helpers for the dataset tests (unit and contract): manifest lines, distinct tiny images, S3
uploads, waiting on a live server, and a ``Workspace`` (files under the allowed local root plus
shortcuts to the dataset handlers, no HTTP) for the unit tests.
"""

from __future__ import annotations

import json
import struct
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

from tests.helpers.synthetic import mask_png, png_image

from openlookout.service import dataset_jobs, datasets, projects
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.states import DatasetStatus

CTX = RequestContext(account_id="123456789012", region="us-east-1")
FINAL = {"CREATE_COMPLETE", "CREATE_FAILED", "UPDATE_COMPLETE", "UPDATE_FAILED_ROLLBACK_COMPLETE"}


def label_line(
    ref: str, label: str | None, *, attribute: str = "anomaly-label", value: Any = None, **extra: Any
) -> str:
    """A classification manifest line (capitalised class names and string values are allowed).

    ``value`` overrides the label attribute's value (ignored by the service); ``extra`` adds keys.
    """
    line: dict[str, Any] = {"source-ref": ref}
    if label is not None:
        line[attribute] = value if value is not None else (1 if label.lower() == "anomaly" else 0)
        line[f"{attribute}-metadata"] = {
            "class-name": label,
            "type": "groundtruth/image-classification",
            "human-annotated": "yes",
            "confidence": 1,
            "job-name": "labeling-job/test",
            "creation-date": "2024-03-05T10:15:00.000",
        }
    line.update(extra)
    return json.dumps(line)


def mask_line(ref: str, mask_ref: str, colours: dict[str, str], *, background: bool = True) -> str:
    """A segmentation line: anomaly label plus a mask with the given colour -> class map."""
    colour_map: dict[str, Any] = {}
    if background:
        colour_map["0"] = {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.0}
    for index, (colour, name) in enumerate(colours.items(), start=1):
        colour_map[str(index)] = {"class-name": name, "hex-color": colour.lower(), "confidence": 0.0}
    line = json.loads(label_line(ref, "anomaly"))
    line["anomaly-mask-ref"] = mask_ref
    line["anomaly-mask-ref-metadata"] = {
        "internal-color-map": colour_map,
        "type": "groundtruth/semantic-segmentation",
        "human-annotated": "yes",
    }
    return json.dumps(line)


def with_text_chunk(png: bytes, text: str) -> bytes:
    """The same PNG with a tEXt chunk after IHDR: distinct bytes, identical pixels."""
    body = b"Comment\x00" + text.encode()
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return png[:33] + chunk + png[33:]


def distinct_pngs(count: int, width: int = 96, height: int = 64) -> list[bytes]:
    base = png_image(width, height, seed=42)
    return [with_text_chunk(base, f"copy {i}") for i in range(count)]


def bomb_png(side: int = 30000) -> bytes:
    """A tiny PNG that declares a huge 8-bit grayscale picture (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def new_bucket(s3: Any, *, versioned: bool = False) -> str:
    bucket = f"lv-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def put(s3: Any, bucket: str, key: str, data: bytes | str) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=data.encode() if isinstance(data, str) else data)
    return f"s3://{bucket}/{key}"


def manifest_source(bucket: str, key: str, version: str | None = None) -> dict[str, Any]:
    s3_object = {"Bucket": bucket, "Key": key}
    if version:
        s3_object["VersionId"] = version
    return {"GroundTruthManifest": {"S3Object": s3_object}}


def wait_dataset(lv: Any, project: str, kind: str = "train", timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description = lv.describe_dataset(ProjectName=project, DatasetType=kind)["DatasetDescription"]
        if description["Status"] in FINAL or time.monotonic() > deadline:
            return description
        time.sleep(0.05)


def all_entries(lv: Any, project: str, kind: str = "train", **filters: Any) -> list[dict[str, Any]]:
    paginator = lv.get_paginator("list_dataset_entries")
    out: list[dict[str, Any]] = []
    for page in paginator.paginate(ProjectName=project, DatasetType=kind, **filters):
        out.extend(json.loads(line) for line in page["DatasetEntries"])
    return out


class Workspace:
    """Files under the allowed local root plus shortcuts to the dataset handlers."""

    def __init__(self, runtime: Runtime, root: Path) -> None:
        self.runtime = runtime
        self.root = root
        self.manifests = 0

    def write(self, relative: str, data: bytes | str) -> str:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        return path.as_uri()

    def image(self, relative: str, seed: int, *, width: int = 96, height: int = 64) -> str:
        return self.write(relative, png_image(width, height, seed=seed))

    def mask(self, relative: str, regions: list[tuple[str, tuple[int, int, int, int]]]) -> str:
        return self.write(relative, mask_png(96, 64, regions))

    def project(self, name: str = "widgets") -> str:
        projects.create_project(self.runtime, CTX, {"ProjectName": name})
        return name

    def wait(self) -> None:
        assert self.runtime.jobs.wait_idle(60), "dataset job did not finish"

    def create_from_lines(self, lines: list[str], *, project: str = "widgets", kind: str = "train") -> dict:
        """CreateDataset from a manifest, with the manifest as a local file (the handler takes S3)."""
        self.manifests += 1
        manifest = self.write(f"manifests/{kind}-{self.manifests}.manifest", "\n".join(lines))
        job = (dataset_jobs.IMPORT_MANIFEST, {"manifest_uri": manifest})
        datasets.new_dataset(self.runtime, CTX, project, kind, DatasetStatus.CREATE_IN_PROGRESS, job=job)
        self.wait()
        return self.describe(project=project, kind=kind)

    def update(self, lines: list[str], *, project: str = "widgets", kind: str = "train") -> dict:
        params = {"ProjectName": project, "DatasetType": kind, "Changes": "\n".join(lines).encode()}
        assert datasets.update_dataset_entries(self.runtime, CTX, params) == {"Status": "UPDATE_IN_PROGRESS"}
        self.wait()
        return self.describe(project=project, kind=kind)

    def describe(self, *, project: str = "widgets", kind: str = "train") -> dict:
        params = {"ProjectName": project, "DatasetType": kind}
        return datasets.describe_dataset(self.runtime, CTX, params)["DatasetDescription"]

    def entries(self, *, project: str = "widgets", kind: str = "train", **filters: Any) -> list[dict]:
        out: list[dict] = []
        token: str | None = None
        while True:
            params = {"ProjectName": project, "DatasetType": kind, **filters}
            if token:
                params["NextToken"] = token
            page = datasets.list_dataset_entries(self.runtime, CTX, params)
            out.extend(json.loads(line) for line in page["DatasetEntries"])
            token = page.get("NextToken")
            if not token:
                return out
