"""The blob collector: removes stored blobs nothing refers to any more, after a grace period.

Images, masks, model files, caches and pending changes are written to the blob store before the
rows that refer to them, and nothing deletes them when those rows go (DeleteDataset, DeleteModel,
a failed or rolled-back import). The collector, run every ``gc_interval_s`` by the server and on
demand by ``openlookout gc [--dry-run]``:

1. lists every stored object with its last write time (first, so a row committed later is seen);
2. reads every reference in one transaction (``store.blob_refs``): entries, masks, trials, models
   not deleted (and those a packaging job still needs), jobs not finished;
3. removes an unreferenced object only if it was last written before the cutoff: ``gc_grace_s``
   ago, and ``gc_grace_s`` before the oldest job still queued or running started. A blob put
   (or put again: the store refreshes its write time) by a running job, or by a request between
   storing a file and the row naming it, is therefore never removed; the store checks the write
   time again at the moment of removal. The ownership rows (``blob_owners``) of removed blobs
   go too, unless an entry committed meanwhile refers to them again.

Named objects are removed only in the families the service writes and knows how to judge:
``models/<project>/<version>-<id>/...`` (while the model lives), ``console-thumbs/<sha>.jpg`` and
``console-heatmaps|console-predicted-masks/<model id>/<sha>.png`` (while the image and model
live), ``dataset-changes/...`` (while a job names them). Anything else is kept. Given the data
folder, it also removes the local ONNX copies hosting made of models that are gone.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openlookout.blobs.base import BlobStore, StoredObject
from openlookout.service.hosting_control import local_model_files
from openlookout.store import blob_refs
from openlookout.store.db import Database

log = logging.getLogger(__name__)

_SHA = re.compile(r"[0-9a-f]{64}")
_MODEL_FILE = re.compile(r"models/(\d+)/(\d+)-(\d+)/.+")
_THUMB = re.compile(r"console-thumbs/([0-9a-f]{64})\.jpg")
_OVERLAY = re.compile(r"console-(?:heatmaps|predicted-masks)/(\d+)/([0-9a-f]{64})\.png")
_CHANGES = re.compile(r"dataset-changes/.+")


@dataclass
class CollectionReport:
    """What one collection found and freed (or would free, on a dry run)."""

    dry_run: bool
    cutoff: float
    blobs: int = 0
    named: int = 0
    freed_blobs: int = 0
    freed_named: int = 0
    freed_bytes: int = 0
    leftovers: int = 0
    too_young: int = 0
    local_model_files: int = 0
    freed_keys: list[str] = field(default_factory=list)
    freed_names: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        return (
            f"{self.blobs} blobs and {self.named} named objects stored; {verb} {self.freed_blobs} blobs, "
            f"{self.freed_named} named objects, {self.leftovers} unfinished writes and "
            f"{self.local_model_files} local model copies "
            f"({self.freed_bytes / 1e6:.1f} MB); {self.too_young} unreferenced objects are younger than "
            "the grace period"
        )


def collect_garbage(
    db: Database,
    blobs: BlobStore,
    *,
    grace_s: float,
    dry_run: bool = False,
    now: float | None = None,
    data_dir: Path | None = None,
) -> CollectionReport:
    """One collection (see the module doc); nothing is removed when ``dry_run``. With ``data_dir``
    the local ONNX copies of models that no longer live go too."""
    started = time.time() if now is None else now
    stored = list(blobs.list_blobs())
    named = list(blobs.list_named())
    with db.begin() as conn:
        refs = blob_refs.read_references(conn)
    refs.content |= {s for s in _strings(refs.job_payloads) if _SHA.fullmatch(s)}
    cutoff = started - grace_s
    if refs.oldest_active_job is not None:
        cutoff = min(cutoff, refs.oldest_active_job - grace_s)
    report = CollectionReport(dry_run=dry_run, cutoff=cutoff, blobs=len(stored), named=len(named))
    keep_named = _NamedJudge(refs)
    for item in stored:
        if item.key not in refs.content and _take(blobs.collect, item, cutoff, report):
            report.freed_blobs += 1
            report.freed_keys.append(item.key)
    for item in named:
        if not keep_named(item.key) and _take(blobs.collect_named, item, cutoff, report):
            report.freed_named += 1
            report.freed_names.append(item.key)
    if not dry_run:
        count, size = blobs.collect_leftovers(cutoff)
        report.leftovers, report.freed_bytes = count, report.freed_bytes + size
        with db.begin() as conn:
            blob_refs.forget_owners(conn, report.freed_keys)
    if data_dir is not None:
        live = {m.id for m in refs.models}
        for model_id, path in local_model_files(data_dir).items():
            if model_id in live or _written_since(path, cutoff):
                continue
            report.freed_bytes += path.stat().st_size
            report.local_model_files += 1
            if not dry_run:
                path.unlink(missing_ok=True)
    return report


def _written_since(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime >= cutoff
    except FileNotFoundError:
        return True


def _take(collect: Any, item: StoredObject, cutoff: float, report: CollectionReport) -> bool:
    """Remove one unreferenced object if it is old enough; True when it was (or would be) freed."""
    if item.modified >= cutoff:
        report.too_young += 1
        return False
    if report.dry_run:
        report.freed_bytes += item.size
        return True
    freed = collect(item.key, cutoff)
    if freed is None:
        report.too_young += 1
        return False
    report.freed_bytes += freed
    return True


class _NamedJudge:
    """Whether a named object is still referred to (True also for names of unknown families)."""

    def __init__(self, refs: blob_refs.BlobReferences) -> None:
        self.content = refs.content
        self.models = {m.id for m in refs.models}
        self.model_folders = {(m.project_id, m.version, m.id) for m in refs.models}
        self.model_files = {name for m in refs.models for name in m.named}
        self.job_names = set(_strings(refs.job_payloads))

    def __call__(self, name: str) -> bool:
        if name in self.job_names or name in self.model_files:
            return True
        found = _MODEL_FILE.fullmatch(name)
        if found:
            return (int(found.group(1)), int(found.group(2)), int(found.group(3))) in self.model_folders
        found = _THUMB.fullmatch(name)
        if found:
            return found.group(1) in self.content
        found = _OVERLAY.fullmatch(name)
        if found:
            return int(found.group(1)) in self.models and found.group(2) in self.content
        return _CHANGES.fullmatch(name) is None  # pending changes are named by their job; others kept


def _strings(value: Any) -> list[str]:
    """Every string inside a job payload (parsed if it is JSON text)."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        return [value] if isinstance(parsed, str) else _strings(parsed)
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []
