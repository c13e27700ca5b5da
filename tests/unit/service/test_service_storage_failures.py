"""A full disk never leaves a dataset in progress (issue 14, item 5), checked with injected ENOSPC.

Today's main left an import into a full disk CREATE_IN_PROGRESS ("importing 1/300") until a
restart, because the failure itself could not be saved, and that blocked deleting the dataset.
Here blob writes fail with ENOSPC (and, in the worst case, so do the first attempts to record
the failure): the dataset still ends CREATE_FAILED with a storage message and can be deleted; a
nearly full disk refuses imports and uploads before they start, and stops one midway with room
left to record it.
"""

from __future__ import annotations

import errno
import sqlite3
import time
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from tests.helpers.synthetic import png_image
from tests.unit.service.dataset_support import CTX, Workspace, label_line

from openlookout.blobs import files as file_blobs
from openlookout.errors import InternalServerException
from openlookout.service import dataset_jobs, datasets, imports, storage

MB = 1024 * 1024


def _disk_full(*_args: Any, **_kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _wait_final(ws: Workspace, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = ws.describe()
        if not described["Status"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


def test_enospc_during_an_import_fails_the_dataset_with_a_storage_message(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.project()
    refs = [ws.image(f"normal/{i}.png", seed=i) for i in range(5)]
    monkeypatch.setattr(file_blobs, "_write_atomically", _disk_full)
    described = ws.create_from_lines([label_line(ref, "normal") for ref in refs])
    assert described["Status"] == "CREATE_FAILED"
    assert "disk is full" in described["StatusMessage"], described["StatusMessage"]
    datasets.delete_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train"})


def test_the_failure_is_recorded_once_the_database_can_be_written_again(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.project()
    refs = [ws.image(f"normal/{i}.png", seed=10 + i) for i in range(3)]
    monkeypatch.setattr(file_blobs, "_write_atomically", _disk_full)
    real_fail = dataset_jobs._fail_create
    refusals = {"left": 2}

    def fail_while_the_disk_is_full(runtime: Any, dataset_id: int, message: str) -> None:
        if refusals["left"] > 0:
            refusals["left"] -= 1
            raise OperationalError(
                "UPDATE datasets", {}, sqlite3.OperationalError("database or disk is full")
            )
        real_fail(runtime, dataset_id, message)

    monkeypatch.setattr(dataset_jobs, "_fail_create", fail_while_the_disk_is_full)
    uri = ws.write("manifests/full.manifest", "\n".join(label_line(ref, "normal") for ref in refs))
    datasets.new_dataset(
        ws.runtime,
        CTX,
        "widgets",
        "train",
        "CREATE_IN_PROGRESS",
        job=(dataset_jobs.IMPORT_MANIFEST, {"manifest_uri": uri}),
    )
    described = _wait_final(ws)
    assert refusals["left"] == 0
    assert described["Status"] == "CREATE_FAILED", described
    assert ws.runtime.jobs.pending_retries == 0
    datasets.delete_dataset(ws.runtime, CTX, {"ProjectName": "widgets", "DatasetType": "train"})


def test_a_nearly_full_disk_refuses_imports_and_uploads_up_front(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.project()
    monkeypatch.setattr(storage, "free_bytes", lambda runtime: 10 * MB)
    with pytest.raises(InternalServerException, match="nearly full"):
        imports.add_image(ws.runtime, CTX, "widgets", "train", "a.png", png_image(96, 64, seed=1), None)
    with pytest.raises(InternalServerException, match="nearly full"):
        imports.import_labeled_source(ws.runtime, CTX, "widgets", "train", str(ws.root))
    params = {
        "ProjectName": "widgets",
        "DatasetType": "test",
        "DatasetSource": {"GroundTruthManifest": {"S3Object": {"Bucket": "b", "Key": "k"}}},
    }
    with pytest.raises(InternalServerException, match="nearly full"):
        datasets.create_dataset(ws.runtime, CTX, params)


def test_an_import_stops_midway_when_the_disk_fills(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ws.project()
    refs = [ws.image(f"normal/{i}.png", seed=20 + i) for i in range(6)]
    floor = ws.runtime.settings.min_free_bytes
    calls = {"n": 0}

    def shrinking(runtime: Any) -> int:
        calls["n"] += 1
        return floor + 10 * MB if calls["n"] <= 2 else floor // 4

    monkeypatch.setattr(storage, "free_bytes", shrinking)
    described = ws.create_from_lines([label_line(ref, "normal") for ref in refs])
    assert described["Status"] == "CREATE_FAILED"
    assert "was not stored: the server's disk is nearly full" in described["StatusMessage"]
