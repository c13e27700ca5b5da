"""The five dataset operations (CreateDataset, DescribeDataset, DeleteDataset, ListDatasetEntries,
UpdateDatasetEntries) as handlers of the operation table.

Each takes ``(runtime, ctx, params)`` with the API model's member names and returns the output members.
Work that reads images runs as a background job (``openlookout.service.dataset_jobs``); the handlers
only check states, record the new status and submit the job.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from openlookout.errors import ConflictException, ValidationException
from openlookout.service import dataset_jobs as jobs
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.lookups import dataset_resource_id, require_dataset, require_project
from openlookout.service.models import require_no_training
from openlookout.service.states import DATASET_BUSY, DATASET_STABLE, DATASET_UPDATING, DatasetStatus
from openlookout.service.status_messages import dataset_status_message
from openlookout.service.storage import require_room
from openlookout.service.tenancy import require_s3
from openlookout.store import entries as repo
from openlookout.store import projects as project_store
from openlookout.store.entry_queries import EntryFilter, entry_page

MAX_CHANGES_BYTES = 10 * 1024 * 1024
DEFAULT_PAGE = 100
UPDATE_POLL_SECONDS = 0.05


# --- lookups --------------------------------------------------------------------------------


def read_dataset(runtime: Runtime, ctx: RequestContext, name: str, dataset_type: str) -> repo.DatasetRow:
    """``lookups.require_dataset`` in a transaction of its own."""
    with runtime.db.begin() as conn:
        return require_dataset(conn, ctx, name, dataset_type)


def wait_until_updated(
    runtime: Runtime, ctx: RequestContext, name: str, dataset_type: str, timeout: float
) -> repo.DatasetRow | None:
    """The dataset once no update (or its rollback) is running; None if one still is after ``timeout`` s.

    For callers that start UpdateDatasetEntries and must show its outcome (the console, trial
    detection): a failed update leaves the dataset in UPDATE_FAILED_ROLLBACK_COMPLETE.
    """
    deadline = time.monotonic() + timeout
    while True:
        dataset = read_dataset(runtime, ctx, name, dataset_type)
        if dataset.status not in DATASET_UPDATING:
            return dataset
        if time.monotonic() > deadline:
            return None
        time.sleep(UPDATE_POLL_SECONDS)


def busy_conflict(project_name: str, dataset: repo.DatasetRow, action: str) -> ConflictException:
    return ConflictException(
        f"The {dataset.dataset_type} dataset of project {project_name} is {dataset.status}; "
        f"it cannot be {action} now.",
        resource_id=dataset_resource_id(project_name, dataset.dataset_type),
        resource_type="DATASET",
    )


JobSpec = tuple[str, dict[str, Any]]
"""A dataset job to submit: its kind and payload (the dataset's id is added as ``dataset_id``)."""


def new_dataset(
    runtime: Runtime,
    ctx: RequestContext,
    project_name: str,
    dataset_type: str,
    status: str,
    *,
    job: JobSpec | None = None,
) -> tuple[repo.DatasetRow, int | None]:
    """Insert a dataset row (and submit its job in the same transaction); the row and the job id.

    ConflictException if the project already has a dataset of that type.
    """
    conflict = ConflictException(
        f"Project {project_name} already has a {dataset_type} dataset; delete it first to replace it.",
        resource_id=dataset_resource_id(project_name, dataset_type),
        resource_type="DATASET",
    )
    try:
        with runtime.db.begin() as conn:
            project = require_project(conn, ctx, project_name)
            if repo.get_dataset(conn, project.id, dataset_type) is not None:
                raise conflict
            dataset = repo.insert_dataset(conn, project.id, dataset_type, status, time.time())
            job_id = None
            if job is not None:
                kind, payload = job
                job_id = jobs.submit_job(runtime, kind, {**payload, "dataset_id": dataset.id}, conn=conn)
            return dataset, job_id
    except IntegrityError:
        raise conflict from None


def dataset_metadata(dataset_type: str, created_at: float, status: str, stored: str | None) -> dict[str, Any]:
    """The DatasetMetadata structure (CreateDataset, and each of DescribeProject's Datasets)."""
    return {
        "DatasetType": dataset_type,
        "CreationTimestamp": created_at,
        "Status": status,
        "StatusMessage": dataset_status_message(status, stored),
    }


def _metadata(dataset: repo.DatasetRow) -> dict[str, Any]:
    return dataset_metadata(dataset.dataset_type, dataset.created_at, dataset.status, dataset.status_message)


# --- handlers -------------------------------------------------------------------------------


def create_dataset(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    project_name = str(params["ProjectName"])
    dataset_type = str(params["DatasetType"])
    source = params.get("DatasetSource")
    s3_object = ((source or {}).get("GroundTruthManifest") or {}).get("S3Object")
    if source is not None and not s3_object:
        raise ValidationException("DatasetSource must name a GroundTruthManifest S3Object.")
    if not s3_object:
        dataset, _ = new_dataset(runtime, ctx, project_name, dataset_type, DatasetStatus.CREATE_COMPLETE)
        return {"DatasetMetadata": _metadata(dataset)}
    bucket, key = s3_object.get("Bucket"), s3_object.get("Key")
    if not bucket or not key:
        raise ValidationException("The manifest's S3Object needs both Bucket and Key.")
    require_s3(runtime, ctx, str(bucket), str(key))
    require_room(runtime)
    payload: dict[str, Any] = {"manifest_uri": f"s3://{bucket}/{key}"}
    if s3_object.get("VersionId"):
        payload["version_id"] = str(s3_object["VersionId"])
    dataset, _ = new_dataset(
        runtime,
        ctx,
        project_name,
        dataset_type,
        DatasetStatus.CREATE_IN_PROGRESS,
        job=(jobs.IMPORT_MANIFEST, payload),
    )
    return {"DatasetMetadata": _metadata(dataset)}


def describe_dataset(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    project_name = str(params["ProjectName"])
    dataset = read_dataset(runtime, ctx, project_name, str(params["DatasetType"]))
    with runtime.db.begin() as conn:
        stats = repo.image_stats(conn, dataset.id)
    description: dict[str, Any] = {
        "ProjectName": project_name,
        "DatasetType": dataset.dataset_type,
        "CreationTimestamp": dataset.created_at,
        "LastUpdatedTimestamp": dataset.updated_at,
        "Status": dataset.status,
        "StatusMessage": dataset_status_message(dataset.status, dataset.status_message),
        "ImageStats": {
            "Total": stats.total,
            "Labeled": stats.labeled,
            "Normal": stats.normal,
            "Anomaly": stats.anomaly,
        },
    }
    return {"DatasetDescription": description}


def delete_dataset(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Deletes synchronously: rows go in one transaction; the blob copies stay until the blob
    collector (``service.blob_gc``) finds that nothing refers to them."""
    project_name = str(params["ProjectName"])
    dataset = read_dataset(runtime, ctx, project_name, str(params["DatasetType"]))
    if dataset.status in DATASET_BUSY:
        raise busy_conflict(project_name, dataset, "deleted")
    require_no_training(runtime, project_name, dataset.project_id, dataset.dataset_type)
    with runtime.db.begin() as conn:
        project = project_store.lock_project(conn, dataset.project_id)
        changed = repo.set_dataset_status(
            conn,
            dataset.id,
            DatasetStatus.DELETE_IN_PROGRESS,
            None,
            time.time(),
            expect_status=[dataset.status],
        )
        if not changed or project is None:
            raise busy_conflict(project_name, dataset, "deleted")
        repo.delete_dataset_row(conn, dataset.id)
        repo.delete_unused_labels(conn, project.id)
        if repo.project_entry_count(conn, project.id) == 0:
            project_store.set_image_size(conn, project.id, None)
    return {}


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def list_dataset_entries(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    project_name = str(params["ProjectName"])
    dataset = read_dataset(runtime, ctx, project_name, str(params["DatasetType"]))
    filters = EntryFilter(
        labeled=params.get("Labeled"),
        anomaly_class=params.get("AnomalyClass"),
        created_before=_epoch(params.get("BeforeCreationDate")),
        created_after=_epoch(params.get("AfterCreationDate")),
        source_ref_contains=params.get("SourceRefContains"),
    )
    if filters.anomaly_class is not None and filters.anomaly_class not in ("normal", "anomaly"):
        raise ValidationException("anomalyClass must be normal or anomaly.")
    limit = int(params.get("MaxResults") or DEFAULT_PAGE)
    if not 1 <= limit <= DEFAULT_PAGE:
        raise ValidationException(f"maxResults must be between 1 and {DEFAULT_PAGE}.")
    scope = {
        "op": "ListDatasetEntries",
        "account": ctx.account_id,
        "region": ctx.region,
        "project": project_name,
        "type": dataset.dataset_type,
        "dataset": [dataset.id, dataset.created_at],
        "filters": [
            filters.labeled,
            filters.anomaly_class,
            filters.created_before,
            filters.created_after,
            filters.source_ref_contains,
        ],
    }
    after = runtime.pager.decode(params.get("NextToken"), scope)
    if after is not None and not isinstance(after, int):
        raise ValidationException("The pagination token is not valid.")
    with runtime.db.begin() as conn:
        lines, last_id = entry_page(conn, dataset.id, filters, after, limit)
    out: dict[str, Any] = {"DatasetEntries": lines}
    if last_id is not None:
        out["NextToken"] = runtime.pager.encode(scope, last_id)
    return out


def update_dataset_entries(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    project_name = str(params["ProjectName"])
    changes = params.get("Changes")
    if isinstance(changes, str):
        changes = changes.encode("utf-8")
    if not isinstance(changes, bytes | bytearray) or not changes:
        raise ValidationException("Changes must hold at least one dataset entry.")
    if len(changes) > MAX_CHANGES_BYTES:
        raise ValidationException(
            f"Changes is {len(changes):,} bytes; the limit is {MAX_CHANGES_BYTES:,} bytes (10 MiB)."
        )
    dataset = read_dataset(runtime, ctx, project_name, str(params["DatasetType"]))
    if dataset.status not in DATASET_STABLE:
        raise busy_conflict(project_name, dataset, "updated")
    require_room(runtime, len(changes))
    start_changes(runtime, project_name, dataset, bytes(changes), jobs.UPDATE_ENTRIES)
    return {"Status": DatasetStatus.UPDATE_IN_PROGRESS}


def start_changes(
    runtime: Runtime, project_name: str, dataset: repo.DatasetRow, changes: bytes, kind: str
) -> int:
    """Keep ``changes`` (Ground Truth lines) for a job of ``kind`` that applies them, and start it
    (``start_update``); the job id."""
    changes_name = f"dataset-changes/{uuid.uuid4().hex}.jsonl"
    runtime.blobs.put_named(changes_name, changes)
    try:
        return start_update(runtime, project_name, dataset, job=(kind, {"changes_name": changes_name}))
    except Exception:
        runtime.blobs.delete_named(changes_name)
        raise


def start_update(runtime: Runtime, project_name: str, dataset: repo.DatasetRow, *, job: JobSpec) -> int:
    """Move a stable dataset to UPDATE_IN_PROGRESS and submit its job in one transaction; the job id.

    ConflictException if the dataset is not in a stable state.
    """
    if dataset.status not in DATASET_STABLE:
        raise busy_conflict(project_name, dataset, "updated")
    kind, payload = job
    with runtime.db.begin() as conn:
        changed = repo.set_dataset_status(
            conn,
            dataset.id,
            DatasetStatus.UPDATE_IN_PROGRESS,
            None,
            time.time(),
            expect_status=DATASET_STABLE,
        )
        if not changed:
            raise busy_conflict(project_name, dataset, "updated")
        return jobs.submit_job(runtime, kind, {**payload, "dataset_id": dataset.id}, conn=conn)
