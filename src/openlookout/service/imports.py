"""Adding images without a manifest: a labeled folder or S3 prefix, or one uploaded image.

Both build Ground Truth entries (``imaging.manifest.new_entry``) and hand them to the same ingestion
code as manifests (``openlookout.service.entries``), so every image rule applies unchanged.

- ``import_labeled_source`` runs as a background job: images under the immediate sub-folders
  ``normal/`` and ``anomaly/`` get that label (with ``labeled=False`` none does); their source-ref
  is the file's absolute ``file://`` URI or the ``s3://`` URI. DescribeDataset shows progress as
  "importing <done>/<total>" while the job runs.
- ``add_image`` stores one uploaded image synchronously under the source-ref
  ``upload://<sha256>/<name>`` (our own scheme: the bytes live only in the blob store).
- ``import_manifest`` brings a Ground Truth manifest on S3 into a dataset: CreateDataset with the
  manifest as its source when the dataset does not exist yet (as on AWS), otherwise
  UpdateDatasetEntries with the manifest's lines (add or replace by ``source-ref``; that
  operation has no manifest location, so the references must be absolute, and its 10 MiB limit on
  changes applies: a larger object is refused by its size before a byte of it is read). Both run
  with the API's own checks.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

from sqlalchemy import Connection

from openlookout.errors import ValidationException
from openlookout.imaging.admission import admit_image
from openlookout.imaging.images import ImageRejected
from openlookout.imaging.manifest import Label, new_entry
from openlookout.service import dataset_jobs as jobs
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.dataset_jobs import read_manifest
from openlookout.service.datasets import MAX_CHANGES_BYTES, busy_conflict, new_dataset, start_update
from openlookout.service.entries import Candidate, IngestError, ParsedBatch
from openlookout.service.entry_rules import ingest
from openlookout.service.lookups import require_project
from openlookout.service.operations import run_operation
from openlookout.service.states import DATASET_STABLE, DatasetStatus
from openlookout.service.storage import require_room
from openlookout.service.tenancy import require_s3, source_access
from openlookout.sources.reader import upload_ref
from openlookout.store import entries as repo

MAX_NAME_CHARS = 255
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def source_uri(uri: str) -> str:
    """``s3://`` and ``file://`` URIs unchanged; a local path becomes an absolute ``file://`` URI."""
    text = uri.strip()
    if not text:
        raise ValidationException("The image source is empty; give a folder, file:// URI or s3:// prefix.")
    if text.startswith(("s3://", "file://")):
        return text
    if "://" in text:
        raise ValidationException(f"Cannot import from {text}: only s3://, file:// and local folders work.")
    return Path(text).expanduser().absolute().as_uri()


def import_labeled_source(
    runtime: Runtime,
    ctx: RequestContext,
    project_name: str,
    dataset_type: str,
    uri: str,
    labeled: bool = True,
) -> int:
    """Start importing a folder or S3 prefix into the dataset (created if missing); the job id."""
    _check_dataset_type(dataset_type)
    location = source_uri(uri)
    require_room(runtime)
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://") :].partition("/")
        require_s3(runtime, ctx, bucket, prefix)
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        dataset = repo.get_dataset(conn, project.id, dataset_type)
    payload = {"uri": location, "labeled": labeled, "creating": dataset is None}
    if dataset is not None:
        return start_update(runtime, project_name, dataset, job=(jobs.IMPORT_SOURCE, payload))
    creating = DatasetStatus.CREATE_IN_PROGRESS
    _, job_id = new_dataset(
        runtime, ctx, project_name, dataset_type, creating, job=(jobs.IMPORT_SOURCE, payload)
    )
    assert job_id is not None
    return job_id


def add_image(
    runtime: Runtime,
    ctx: RequestContext,
    project_name: str,
    dataset_type: str,
    name: str,
    data: bytes,
    label: str | None,
) -> str:
    """Store one uploaded image as a dataset entry (dataset created if missing); its source-ref."""
    _check_dataset_type(dataset_type)
    _check_name(name)
    if label not in (None, "normal", "anomaly"):
        raise ValidationException(f"The label must be normal, anomaly or absent, not {label!r}.")
    if not data:
        raise ValidationException(f"The upload {name} is empty.")
    require_room(runtime, len(data))
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        dataset = repo.get_dataset(conn, project.id, dataset_type)
    try:
        admitted = admit_image(data, name=name)
    except ImageRejected as exc:
        raise ValidationException(f"image {name}: {exc.reason}") from None
    # The reference names the stored (upright) copy, so it reads back the bytes the entry holds.
    source_ref = upload_ref(admitted.info.sha256, name)
    created = dataset is None
    if dataset is None:
        dataset, _ = new_dataset(runtime, ctx, project_name, dataset_type, DatasetStatus.CREATE_COMPLETE)
    elif dataset.status not in DATASET_STABLE:
        raise busy_conflict(project_name, dataset, "updated")
    entry = new_entry(source_ref, cast(Label | None, label), job_name="openlookout/upload")
    batch = ParsedBatch(
        candidates=[
            Candidate(
                position=1,
                where=f"image {name}",
                entry=entry,
                data=admitted.data,
                names_image=True,
                admitted=admitted.info,
            )
        ]
    )

    def finish(conn: Connection, current: repo.DatasetRow) -> None:
        if current.status not in DATASET_STABLE:
            raise busy_conflict(project_name, current, "updated")
        if not created:
            repo.set_dataset_status(conn, current.id, DatasetStatus.UPDATE_COMPLETE, None, time.time())

    try:
        ingest(runtime, dataset.id, batch, finish=finish)
    except IngestError as exc:
        if created:
            _drop_empty(runtime, dataset.id)
        raise ValidationException(exc.message) from None
    return source_ref


def manifest_object(uri: str) -> dict[str, str]:
    """``s3://bucket/key`` as the S3Object of a DatasetSource (ValidationException otherwise)."""
    parts = urlsplit(uri.strip())
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key or parts.query or parts.fragment:
        raise ValidationException(f"The manifest must be an S3 object URI like s3://bucket/key, not {uri!r}.")
    return {"Bucket": parts.netloc, "Key": key}


def import_manifest(
    runtime: Runtime, ctx: RequestContext, project_name: str, dataset_type: str, uri: str
) -> None:
    """Bring the Ground Truth manifest at ``uri`` (``s3://bucket/key``) into the dataset."""
    s3_object = manifest_object(uri)
    require_s3(runtime, ctx, s3_object["Bucket"], s3_object["Key"])
    target = {"ProjectName": project_name, "DatasetType": dataset_type}
    with runtime.db.begin() as conn:
        project = require_project(conn, ctx, project_name)
        exists = repo.get_dataset(conn, project.id, dataset_type) is not None
    if not exists:
        source = {"GroundTruthManifest": {"S3Object": s3_object}}
        run_operation(runtime, ctx, "CreateDataset", {**target, "DatasetSource": source})
        return
    uri = f"s3://{s3_object['Bucket']}/{s3_object['Key']}"
    try:  # the object's size is checked before its body is read
        access = source_access(runtime, ctx.account_id)
        changes = read_manifest(runtime, access, uri, None, max_bytes=MAX_CHANGES_BYTES)
    except IngestError as exc:
        raise ValidationException(exc.message) from None
    run_operation(runtime, ctx, "UpdateDatasetEntries", {**target, "Changes": changes})


def _drop_empty(runtime: Runtime, dataset_id: int) -> None:
    """Remove a dataset this upload created when the upload itself was refused."""
    with runtime.db.begin() as conn:
        if repo.image_stats(conn, dataset_id).total == 0:
            repo.delete_dataset_row(conn, dataset_id)


def _check_dataset_type(dataset_type: str) -> None:
    if dataset_type not in ("train", "test"):
        raise ValidationException(f"The dataset type must be train or test, not {dataset_type!r}.")


def _check_name(name: str) -> None:
    if not name or not name.strip():
        raise ValidationException("The image name is empty.")
    if len(name) > MAX_NAME_CHARS:
        raise ValidationException(
            f"The image name is {len(name)} characters long; the limit is {MAX_NAME_CHARS}."
        )
    if _BAD_NAME.search(name):
        raise ValidationException(
            f"The image name {name!r} contains a slash, backslash or control character."
        )
