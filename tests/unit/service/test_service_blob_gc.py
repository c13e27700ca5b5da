"""The blob collector (issue 14, item 4): it removes exactly the unreferenced blobs, never one being written.

Today's main never deleted a blob: DeleteDataset, DeleteModel and failed imports kept every copy
(550 orphaned files after a few failed updates). Here a workspace holds referenced and orphaned
blobs and named objects of every family; one collection removes exactly the orphans older than
the grace period, keeps those a queued job may still be writing and one an import puts again while
the collection runs, and a dry run removes nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy import select
from tests.helpers.synthetic import png_image
from tests.unit.service.dataset_support import CTX, Workspace, label_line
from typer.testing import CliRunner

from openlookout.blobs.files import FileBlobStore
from openlookout.blobs.s3 import S3BlobStore
from openlookout.cli.main import app as cli_app
from openlookout.service import blob_gc, datasets, imports
from openlookout.store import blob_refs
from openlookout.store import jobs as job_store
from openlookout.store import models as model_store
from openlookout.store import projects as project_store
from openlookout.store.tables import blob_owners
from openlookout.store.tables import jobs as jobs_table

HOUR = 3600.0


def _age(store: FileBlobStore, key: str, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(store.path_for(key), (stamp, stamp))


def _age_named(store: FileBlobStore, name: str, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(store.named_path(name), (stamp, stamp))


def _model(ws: Workspace, version: int, *, deleted: bool) -> int:
    now = time.time()
    with ws.runtime.db.begin() as conn:
        project = project_store.get_project(conn, CTX.account_id, CTX.region, "widgets")
        assert project is not None
        row = model_store.insert_model(
            conn,
            project_id=project.id,
            version=version,
            arn=f"arn:aws:lookoutvision:us-east-1:123456789012:model/widgets/{version}",
            status="TRAINED",
            output_bucket="unused",
            output_prefix="",
            created_at=now,
            updated_at=now,
            deleted_at=now if deleted else None,
        )
    base = f"models/{project.id}/{version}-{row.id}"
    for name in ("model.onnx", "detector.pt"):
        ws.runtime.blobs.put_named(f"{base}/{name}", f"{base}/{name}".encode())
    with ws.runtime.db.begin() as conn:
        model_store.update_model(
            conn, row.id, onnx_blob=f"{base}/model.onnx", detector_blob=f"{base}/detector.pt"
        )
    return row.id


def test_the_collector_frees_exactly_the_unreferenced_blobs(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, store = ws.runtime, ws.runtime.blobs
    assert isinstance(store, FileBlobStore)
    ws.project()
    kept_refs = [ws.image(f"normal/keep-{i}.png", seed=i) for i in range(3)]
    assert (
        ws.create_from_lines([label_line(ref, "normal") for ref in kept_refs])["Status"] == "CREATE_COMPLETE"
    )
    with runtime.db.begin() as conn:
        referenced = set(blob_refs.read_references(conn).content)
    assert len(referenced) == 3

    # An upload into the test dataset, then the dataset deleted: its image is an orphan.
    deleted_image = imports.add_image(
        runtime, CTX, "widgets", "test", "gone.png", png_image(96, 64, seed=50), None
    )
    datasets.delete_dataset(runtime, CTX, {"ProjectName": "widgets", "DatasetType": "test"})
    gone_key = deleted_image.split("/")[2]
    # A failed update: line 1's image is stored, line 2 is refused, nothing is written.
    failed_ref = ws.image("normal/failed.png", seed=60)
    ws.update([label_line(failed_ref, "normal"), label_line(ws.root.as_uri() + "/missing.png", "normal")])
    failed_key = store.put(png_image(96, 64, seed=60))
    orphan = store.put(b"written long ago, referenced by nothing")
    fresh = store.put(b"written a moment ago by a request about to commit its row")
    for key in (gone_key, failed_key, orphan):
        _age(store, key, 2 * HOUR)
    for key in referenced:
        _age(store, key, 2 * HOUR)

    live_model = _model(ws, 1, deleted=False)
    dead_model = _model(ws, 2, deleted=True)
    some_ref = next(iter(referenced))
    named = {
        "console-thumbs/" + some_ref + ".jpg": True,
        "console-thumbs/" + orphan + ".jpg": False,
        f"console-heatmaps/{live_model}/{some_ref}.png": True,
        f"console-heatmaps/{dead_model}/{some_ref}.png": False,
        "dataset-changes/left-behind.jsonl": False,
        "someone-elses/notes.txt": True,
    }
    for name in named:
        store.put_named(name, b"x")
    for found in list(store.list_named()):
        _age_named(store, found.key, 2 * HOUR)

    # A job still queued since half an hour ago: what it may have written since is not collected.
    with runtime.db.begin() as conn:
        job_id = job_store.insert_job(conn, "test.never-registered", {"note": "parked"})
        stamp = time.time() - 0.5 * HOUR
        conn.execute(jobs_table.update().where(jobs_table.c.id == job_id).values(created_at=stamp))
    written_by_job = store.put(b"put by the queued job")
    _age(store, written_by_job, 0.25 * HOUR)

    # An import puts an old orphan again while the collection runs (after the listing).
    again = store.put(b"an old orphan an import is putting again")
    _age(store, again, 2 * HOUR)
    real_read = blob_refs.read_references

    def read_while_importing(conn: Any) -> blob_refs.BlobReferences:
        store.put(b"an old orphan an import is putting again")
        return real_read(conn)

    dry = blob_gc.collect_garbage(runtime.db, store, grace_s=HOUR, dry_run=True)
    expected = {gone_key, failed_key, orphan, again}
    assert set(dry.freed_keys) == expected, dry.freed_names
    assert dry.freed_named == 5, dry.freed_names  # 3 of the families above, 2 files of the deleted model
    assert all(store.exists(key) for key in expected)

    # Local ONNX copies hosting made: the deleted model's goes, the live one's stays.
    copies = {}
    for model_id in (live_model, dead_model):
        copy = runtime.settings.data_dir / "hosting" / f"model-{model_id}.onnx"
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(b"onnx")
        stamp = time.time() - 2 * HOUR
        os.utime(copy, (stamp, stamp))
        copies[model_id] = copy

    monkeypatch.setattr(blob_refs, "read_references", read_while_importing)
    report = blob_gc.collect_garbage(runtime.db, store, grace_s=HOUR, data_dir=runtime.settings.data_dir)
    assert report.local_model_files == 1
    assert copies[live_model].exists() and not copies[dead_model].exists()
    assert set(report.freed_keys) == {gone_key, failed_key, orphan}
    assert report.freed_named == 5 and report.freed_bytes > 0
    for key in (gone_key, failed_key, orphan):
        assert not store.exists(key)
    for key in referenced | {fresh, written_by_job, again}:
        assert store.exists(key), key
    left = {found.key for found in store.list_named()}
    for name, keep in named.items():
        assert (name in left) == keep, name
    models_left = {name for name in left if name.startswith("models/")}
    assert len(models_left) == 2 and all(f"-{live_model}/" in name for name in models_left)
    # The dataset still reads back, image by image.
    assert len(ws.entries()) == 3
    # Ownership rows go with the blobs they describe, and stay for those still referenced.
    with runtime.db.begin() as conn:
        owned = set(conn.execute(select(blob_owners.c.sha256)).scalars())
    assert gone_key not in owned and referenced <= owned


def test_the_collector_works_on_an_s3_blob_store(tmp_path: Path, moto_endpoint: str) -> None:
    from openlookout.runtime import build_runtime, close_runtime
    from openlookout.settings import Settings

    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    store = S3BlobStore("gc-test", "prefix", client=client)
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", workers=1), blobs=store)
    try:
        ws = Workspace(runtime, tmp_path)
        ws.project()
        kept = imports.add_image(
            runtime, CTX, "widgets", "train", "kept.png", png_image(96, 64, seed=1), None
        )
        orphan = store.put(b"nothing refers to me")
        report = blob_gc.collect_garbage(runtime.db, store, grace_s=-5)  # everything counts as old
        assert report.freed_keys == [orphan]
        assert store.exists(kept.split("/")[2]) and not store.exists(orphan)
    finally:
        close_runtime(runtime)


def test_openlookout_gc_dry_run_and_collection(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = FileBlobStore(data / "blobs")
    orphan = store.put(b"orphaned")
    _age(store, orphan, 2 * HOUR)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLOOKOUT_")}
    runner = CliRunner()
    dry = runner.invoke(cli_app, ["gc", "--dry-run", "--data-dir", str(data)], env=env)
    assert dry.exit_code == 0, dry.output
    assert "freed_blobs=1" in dry.stdout and store.exists(orphan)
    done = runner.invoke(cli_app, ["gc", "--data-dir", str(data)], env=env)
    assert done.exit_code == 0 and "freed_blobs=1" in done.stdout
    assert not store.exists(orphan)
