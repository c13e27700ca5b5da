"""Manifests are parsed as they stream in, never read whole (issue 14, item 2).

Today's main read a manifest of up to 1 GiB into memory before parsing it, and the console's
"import a manifest into an existing dataset" did so inside the request before applying the 10 MiB
limit of UpdateDatasetEntries. Here a 100 MB manifest is parsed with less than 30 MB of growth, a
16,000-line manifest stays under the stated bound, and the console refuses an object over 10 MiB
by its size.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.helpers.rawhttp import PeakRss
from tests.unit.service.dataset_support import CTX, Workspace, label_line, new_bucket, put

from openlookout.errors import ValidationException
from openlookout.runtime import build_runtime, close_runtime
from openlookout.service import dataset_jobs, imports
from openlookout.service.tenancy import source_access
from openlookout.settings import Settings
from openlookout.sources.access import SourceAccess

MB = 1024 * 1024


def _access(runtime: Any) -> SourceAccess:
    return source_access(runtime, CTX.account_id)


# The stated bound: parsing a 16,000-line manifest of ordinary lines (about 300 bytes each) keeps
# the parsed entries and one read piece, well under this much Python memory.
PARSE_16K_BOUND = 64 * MB


def test_a_100_mb_manifest_is_parsed_with_bounded_memory(ws: Workspace) -> None:
    path = ws.root / "huge.manifest"
    padding = (" " * 8000 + "\n").encode()
    with path.open("wb") as handle:
        handle.write(label_line("s3://bucket/a.png", "normal").encode() + b"\n")
        for _ in range(100 * MB // len(padding)):
            handle.write(padding)
    with PeakRss() as memory:
        parsed = dataset_jobs.read_manifest_entries(ws.runtime, _access(ws.runtime), path.as_uri(), None)
    assert parsed.error is None and len(parsed.candidates) == 1
    assert memory.growth < 30 * MB, f"grew by {memory.growth / MB:.1f} MB"


def test_a_16000_line_manifest_stays_under_the_stated_bound(ws: Workspace) -> None:
    lines = [label_line(f"s3://bucket/normal/img-{i:05d}.png", "normal") for i in range(16_000)]
    uri = ws.write("16k.manifest", "\n".join(lines))
    tracemalloc.start()
    try:
        parsed = dataset_jobs.read_manifest_entries(ws.runtime, _access(ws.runtime), uri, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert parsed.error is None and len(parsed.candidates) == 16_000
    assert peak < PARSE_16K_BOUND, f"peak {peak / MB:.1f} MB"


def test_a_manifest_over_the_limit_fails_without_being_read(ws: Workspace) -> None:
    uri = ws.write("big.manifest", "\n" * 4096)
    with pytest.raises(dataset_jobs.IngestError, match="more than the limit of 1000 bytes"):
        dataset_jobs.read_manifest_entries(ws.runtime, _access(ws.runtime), uri, None, max_bytes=1000)


def test_a_bad_line_deep_in_a_manifest_is_reported_by_number(ws: Workspace) -> None:
    lines = [label_line(f"s3://bucket/n{i}.png", "normal") for i in range(3000)] + ["{not json"]
    parsed = dataset_jobs.read_manifest_entries(
        ws.runtime, _access(ws.runtime), ws.write("bad.manifest", "\n".join(lines)), None
    )
    assert parsed.error is not None and parsed.error.message.startswith("line 3001:")


@pytest.fixture
def s3_runtime(tmp_path: Path, moto_endpoint: str) -> Any:
    settings = Settings(data_dir=tmp_path / "data", s3_endpoint_url=moto_endpoint, workers=1)
    runtime = build_runtime(settings)
    yield runtime
    close_runtime(runtime)


def test_s3_manifests_stream_line_by_line(s3_runtime: Any, moto_endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = new_bucket(s3)
    lines = [label_line(f"s3://{bucket}/img-{i}.png", "normal") for i in range(2000)]
    uri = put(s3, bucket, "train.manifest", "\n".join(lines))
    parsed = dataset_jobs.read_manifest_entries(s3_runtime, _access(s3_runtime), uri, None)
    assert parsed.error is None and len(parsed.candidates) == 2000
    with pytest.raises(dataset_jobs.IngestError, match="more than the limit"):
        dataset_jobs.read_manifest_entries(s3_runtime, _access(s3_runtime), uri, None, max_bytes=10_000)


def test_the_console_refuses_a_large_manifest_object_by_its_size(s3_runtime: Any, moto_endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = new_bucket(s3)
    ws = Workspace(s3_runtime, Path("/nonexistent"))
    ws.project("console")
    image = put(s3, bucket, "normal/a.png", b"not even an image")
    small = put(s3, bucket, "small.manifest", label_line(image, "normal"))
    imports.import_manifest(s3_runtime, CTX, "console", "train", small)  # creates the dataset
    assert s3_runtime.jobs.wait_idle(30)
    big = put(s3, bucket, "big.manifest", b" " * (11 * MB))
    with pytest.raises(ValidationException, match=r"is 11534336 bytes, more than the limit of 10485760"):
        imports.import_manifest(s3_runtime, CTX, "console", "train", big)
