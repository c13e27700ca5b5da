"""Everything in the database that refers to a stored blob, read in one transaction for the collector.

- content blobs (by sha256): every dataset entry's image and mask, every trial image and predicted
  mask, and the ``upload://<sha256>/...`` references entries keep in their lines;
- models: the id, project, version and named files of every model version that is not deleted, or
  that a packaging job still being run needs;
- jobs not finished (queued or running): their payloads (which may name blobs) and the oldest
  one's creation time, before which nothing a running job wrote can have been written.

``forget_owners`` drops the ``blob_owners`` rows of collected blobs that nothing refers to at that
moment (a row an import commits meanwhile, with its entries, keeps its owners).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, union

from openlookout.store import jobs as job_store
from openlookout.store.tables import blob_owners, dataset_entries, jobs, models, packaging_jobs, trial_images

_UPLOAD_SHA = re.compile(r"upload://([0-9a-f]{64})/")
ACTIVE_PACKAGING = ("CREATED", "RUNNING")


@dataclass(frozen=True)
class LiveModel:
    id: int
    project_id: int
    version: int
    named: tuple[str, ...]


@dataclass
class BlobReferences:
    """What the database refers to at one moment (see the module doc)."""

    content: set[str] = field(default_factory=set)
    models: list[LiveModel] = field(default_factory=list)
    job_payloads: list[Any] = field(default_factory=list)
    oldest_active_job: float | None = None


def read_references(conn: Connection) -> BlobReferences:
    """Every reference to a stored blob (call it in one transaction)."""
    found = BlobReferences()
    for column in (
        dataset_entries.c.image_sha256,
        dataset_entries.c.mask_sha256,
        trial_images.c.image_sha256,
        trial_images.c.mask_sha256,
    ):
        found.content.update(v for v in conn.execute(select(column).distinct()).scalars() if v)
    uploads = select(dataset_entries.c.entry_json).where(dataset_entries.c.entry_json.contains("upload://"))
    for text in conn.execute(uploads).scalars():
        found.content.update(_UPLOAD_SHA.findall(text))
    needed = select(packaging_jobs.c.project_id, packaging_jobs.c.model_version).where(
        packaging_jobs.c.status.in_(ACTIVE_PACKAGING)
    )
    packaged = {(row.project_id, row.model_version) for row in conn.execute(needed)}
    query = select(
        models.c.id,
        models.c.project_id,
        models.c.version,
        models.c.deleted_at,
        models.c.detector_blob,
        models.c.onnx_blob,
    )
    for row in conn.execute(query):
        if row.deleted_at is None or (row.project_id, row.version) in packaged:
            named = tuple(n for n in (row.detector_blob, row.onnx_blob) if n)
            found.models.append(LiveModel(row.id, row.project_id, row.version, named))
    active = or_(jobs.c.state == job_store.QUEUED, jobs.c.state == job_store.RUNNING)
    found.job_payloads = list(conn.execute(select(jobs.c.payload).where(active)).scalars())
    found.oldest_active_job = conn.execute(select(func.min(jobs.c.created_at)).where(active)).scalar()
    return found


def forget_owners(conn: Connection, hashes: Iterable[str]) -> int:
    """Delete the ownership rows of blobs ``hashes`` that no entry or trial image refers to now."""
    keys = sorted(set(hashes))
    if not keys:
        return 0
    referenced = union(
        select(dataset_entries.c.image_sha256.label("sha")),
        select(dataset_entries.c.mask_sha256),
        select(trial_images.c.image_sha256),
        select(trial_images.c.mask_sha256),
    ).subquery()
    removed = 0
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        still = select(referenced.c.sha).where(referenced.c.sha.in_(chunk))
        query = delete(blob_owners).where(blob_owners.c.sha256.in_(chunk), blob_owners.c.sha256.not_in(still))
        removed += conn.execute(query).rowcount or 0
    return removed
