"""Background jobs that fill datasets: manifest imports, entry updates and edits, folder/prefix imports.

Each job reads its dataset's row, does the work through ``openlookout.service.entries`` and leaves the
dataset in a final state whatever happens (an unexpected error becomes a failed status with a
message). Jobs are safe to re-run after a server stop: a create import starts over on an emptied
dataset, and an update that was cut short had written nothing (the write is one transaction).

``register_jobs(runner)`` registers the kinds; the runtime calls it at start-up (before the workers
start, so interrupted jobs resume).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from openlookout.imaging.manifest import iter_manifest_lines, new_entry
from openlookout.jobs.runner import JobRunner
from openlookout.service.context import Runtime
from openlookout.service.entries import (
    MAX_ENTRIES,
    Candidate,
    IngestError,
    ParsedBatch,
    manifest_lines,
    parse_lines,
    with_stored_files,
)
from openlookout.service.entry_rules import ingest
from openlookout.service.states import DATASET_UPDATING, DatasetStatus
from openlookout.service.storage import storage_reason
from openlookout.service.tenancy import dataset_access
from openlookout.sources.access import SourceAccess
from openlookout.sources.reader import SourceError
from openlookout.store import entries as repo

log = logging.getLogger(__name__)

IMPORT_MANIFEST = "dataset.import_manifest"
UPDATE_ENTRIES = "dataset.update_entries"
EDIT_ENTRIES = "dataset.edit_entries"
IMPORT_SOURCE = "dataset.import_source"

MAX_MANIFEST_BYTES = 1024 * 1024 * 1024


def register_jobs(runner: JobRunner) -> None:
    runner.register(IMPORT_MANIFEST, run_manifest_import, on_failure=on_job_failure)
    runner.register(UPDATE_ENTRIES, run_entries_update, on_failure=on_job_failure)
    runner.register(EDIT_ENTRIES, run_entries_edit, on_failure=on_job_failure)
    runner.register(IMPORT_SOURCE, run_source_import, on_failure=on_job_failure)


def submit_job(
    runtime: Runtime, kind: str, payload: dict[str, Any], *, conn: Connection | None = None
) -> int:
    """Submit a dataset job (in the caller's transaction ``conn`` if given); its id."""
    return runtime.jobs.submit(kind, payload, conn=conn)


# --- job bodies -----------------------------------------------------------------------------


def run_manifest_import(runtime: Runtime, payload: dict[str, Any]) -> None:
    """CreateDataset with a Ground Truth manifest: CREATE_IN_PROGRESS -> CREATE_COMPLETE | CREATE_FAILED."""
    dataset_id = int(payload["dataset_id"])
    uri = str(payload["manifest_uri"])
    version_id = payload.get("version_id")

    def batch() -> ParsedBatch:
        parsed = read_manifest_entries(runtime, dataset_access(runtime, dataset_id), uri, version_id)
        if not parsed.candidates and parsed.error is None:
            raise IngestError(f"manifest {uri} holds no dataset entries")
        return parsed

    _run_create(runtime, dataset_id, batch)


def run_source_import(runtime: Runtime, payload: dict[str, Any]) -> None:
    """A labeled folder or S3 prefix; creates the dataset (CREATE_*) or adds to it (UPDATE_*)."""
    dataset_id = int(payload["dataset_id"])
    uri = str(payload["uri"])
    labeled = bool(payload.get("labeled", True))

    def batch() -> ParsedBatch:
        try:
            found = runtime.sources.list_images(
                uri, access=dataset_access(runtime, dataset_id), limit=MAX_ENTRIES
            )
        except SourceError as exc:
            raise IngestError(f"cannot list images under {uri}: {getattr(exc, 'reason', exc)}") from None
        if not found:
            raise IngestError(f"no PNG or JPEG images found under {uri}")
        parsed = ParsedBatch()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime())
        for position, image in enumerate(found, start=1):
            entry = new_entry(
                image.uri,
                image.label if labeled else None,
                label_attribute="auto-label",
                job_name="labeling-job/auto-label",
                creation_date=stamp,
            )
            parsed.candidates.append(
                Candidate(position=position, where=f"image {image.uri}", entry=entry, names_image=True)
            )
        return parsed

    if payload.get("creating"):
        _run_create(runtime, dataset_id, batch)
    else:
        _run_update(runtime, dataset_id, batch)


def run_entries_update(runtime: Runtime, payload: dict[str, Any]) -> None:
    """UpdateDatasetEntries: UPDATE_IN_PROGRESS -> UPDATE_COMPLETE | ..._ROLLBACK_COMPLETE."""
    _run_changes(runtime, payload, stored_files=False)


def run_entries_edit(runtime: Runtime, payload: dict[str, Any]) -> None:
    """An edit of entries the dataset holds (``service.entry_edits``): as UpdateDatasetEntries, but
    each entry's image (and kept mask) comes from the service's own copy, not its source-ref."""
    _run_changes(runtime, payload, stored_files=True)


def _run_changes(runtime: Runtime, payload: dict[str, Any], *, stored_files: bool) -> None:
    """Apply the stored Changes named in ``payload`` to its dataset, then drop them."""
    dataset_id = int(payload["dataset_id"])
    changes_name = str(payload["changes_name"])

    def batch() -> ParsedBatch:
        parsed = parse_lines(manifest_lines(runtime.blobs.get_named(changes_name)), base=None)
        if not parsed.candidates and parsed.error is None:
            raise IngestError("the changes hold no dataset entries")
        return with_stored_files(runtime, dataset_id, parsed) if stored_files else parsed

    _run_update(runtime, dataset_id, batch)
    _forget_changes(runtime, changes_name)


def _forget_changes(runtime: Runtime, name: str) -> None:
    """Drop the stored Changes of a finished update (kept until then so a re-run can read them)."""
    try:
        runtime.blobs.delete_named(name)
    except Exception:
        log.warning("could not delete the stored changes %s", name, exc_info=True)


# --- shared flow ----------------------------------------------------------------------------


def _run_create(runtime: Runtime, dataset_id: int, batch: Callable[[], ParsedBatch]) -> None:
    _run_ingest(runtime, dataset_id, batch, creating=True)


def _run_update(runtime: Runtime, dataset_id: int, batch: Callable[[], ParsedBatch]) -> None:
    _run_ingest(runtime, dataset_id, batch, creating=False)


def _run_ingest(
    runtime: Runtime, dataset_id: int, batch: Callable[[], ParsedBatch], *, creating: bool
) -> None:
    """Ingest a batch into a dataset that is in the matching *_IN_PROGRESS state.

    A create replaces every entry and fails to CREATE_FAILED; an update adds or replaces entries
    and rolls back on failure.
    """
    expected, done = (
        (DatasetStatus.CREATE_IN_PROGRESS, DatasetStatus.CREATE_COMPLETE)
        if creating
        else (DatasetStatus.UPDATE_IN_PROGRESS, DatasetStatus.UPDATE_COMPLETE)
    )
    fail = _fail_create if creating else _roll_back
    if not _status_is(runtime, dataset_id, expected):
        return
    started = time.monotonic()
    try:
        parsed = batch()
        ingest(
            runtime,
            dataset_id,
            parsed,
            progress=_progress_writer(runtime, dataset_id),
            replace_all=creating,
            finish=_finisher(done),
        )
        runtime.metrics.observe_import(len(parsed.candidates), time.monotonic() - started)
    except IngestError as exc:
        fail(runtime, dataset_id, exc.message)
    except Exception as exc:
        log.exception("dataset %s %s failed", "import" if creating else "update", dataset_id)
        fail(runtime, dataset_id, _internal(exc))


def _internal(exc: Exception) -> str:
    reason = storage_reason(exc)
    if reason is not None:
        return f"the import stopped: {reason}"
    return f"the import stopped on an unexpected error ({type(exc).__name__}: {exc})"


def _finisher(status: str) -> Callable[[Connection, repo.DatasetRow], None]:
    def finish(conn: Connection, dataset: repo.DatasetRow) -> None:
        repo.set_dataset_status(conn, dataset.id, status, None, time.time())

    return finish


def _status_is(runtime: Runtime, dataset_id: int, status: str) -> bool:
    with runtime.db.begin() as conn:
        dataset = repo.get_dataset_by_id(conn, dataset_id)
    return dataset is not None and dataset.status == status


def _fail_create(runtime: Runtime, dataset_id: int, message: str) -> None:
    with runtime.db.begin() as conn:
        repo.delete_all_entries(conn, dataset_id)
        repo.set_dataset_status(conn, dataset_id, DatasetStatus.CREATE_FAILED, message, time.time())


def _roll_back(runtime: Runtime, dataset_id: int, message: str) -> None:
    # Nothing was written (the write is a single transaction), so the rollback only reports.
    with runtime.db.begin() as conn:
        repo.set_dataset_status(conn, dataset_id, DatasetStatus.ROLLBACK_IN_PROGRESS, message, time.time())
    with runtime.db.begin() as conn:
        repo.set_dataset_status(conn, dataset_id, DatasetStatus.ROLLBACK_COMPLETE, message, time.time())


def on_job_failure(runtime: Runtime, payload: dict[str, Any], message: str) -> None:
    """The runner gave up on a job: put its dataset in the matching failed state."""
    dataset_id = int(payload["dataset_id"])
    text = f"the import did not finish: {message}"
    with runtime.db.begin() as conn:
        dataset = repo.get_dataset_by_id(conn, dataset_id)
    if dataset is None:
        return
    if dataset.status == DatasetStatus.CREATE_IN_PROGRESS:
        _fail_create(runtime, dataset_id, text)
    elif dataset.status in DATASET_UPDATING:
        _roll_back(runtime, dataset_id, text)


def _progress_writer(runtime: Runtime, dataset_id: int) -> Callable[[int, int], None]:
    def write(done: int, total: int) -> None:
        try:
            with runtime.db.begin() as conn:
                repo.set_dataset_message(conn, dataset_id, f"importing {done}/{total}")
        except Exception:  # progress is best effort; the import goes on
            log.debug("could not record import progress", exc_info=True)

    return write


def read_manifest_entries(
    runtime: Runtime,
    access: SourceAccess,
    uri: str,
    version_id: str | None,
    *,
    max_bytes: int = MAX_MANIFEST_BYTES,
) -> ParsedBatch:
    """The manifest's entries (a specific S3 object version when ``version_id`` is given), parsed
    line by line as it streams in: one line and one read piece in memory, never the whole file."""
    try:
        opened = runtime.sources.open_stream(uri, access=access, max_bytes=max_bytes, version_id=version_id)
        with opened as stream:
            return parse_lines(iter_manifest_lines(stream), base=uri)
    except SourceError as exc:
        raise IngestError(f"cannot read the manifest: {exc.reason}") from None


def read_manifest(
    runtime: Runtime, access: SourceAccess, uri: str, version_id: str | None, *, max_bytes: int
) -> bytes:
    """The manifest's bytes, at most ``max_bytes`` (a known size is checked before reading)."""
    try:
        return runtime.sources.read(uri, access=access, max_bytes=max_bytes, version_id=version_id)
    except SourceError as exc:
        raise IngestError(f"cannot read the manifest: {exc.reason}") from None
