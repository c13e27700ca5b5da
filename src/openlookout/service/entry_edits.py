"""Label and mask changes to entries a dataset already holds (the web console's edits).

An edit is a few Ground Truth lines for images of the dataset, checked with the rules of
UpdateDatasetEntries (``service.entries``: the same three steps) and ending in the same states:
UPDATE_COMPLETE, or UPDATE_FAILED_ROLLBACK_COMPLETE with the reason (refused with
ConflictException while the dataset is not in a stable state). Each entry's image, and its mask when
the line keeps the stored mask reference, is read back from the service's own copy by its hash
(``entries.with_stored_files``): nothing is downloaded again and the original files need not exist
any more. A new mask is an ``upload://`` reference, also read from the blob store.

- Up to ``SYNC_EDIT_LIMIT`` lines are applied in the caller's request: the files are checked, then
  one transaction re-checks the dataset's state under the project lock, writes the rows and sets
  UPDATE_COMPLETE (the update never waits in UPDATE_IN_PROGRESS, so no stop of the server can leave
  it there).
- More lines go through the ``dataset.edit_entries`` job (UPDATE_IN_PROGRESS meanwhile, as
  UpdateDatasetEntries); the caller waits up to ``EDIT_WAIT_SECONDS`` for its outcome.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from sqlalchemy import Connection

from openlookout.errors import ValidationException
from openlookout.imaging.manifest import Label, ManifestError, new_entry, parse_line, render_entry
from openlookout.service import dataset_jobs
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.datasets import busy_conflict, read_dataset, start_changes, wait_until_updated
from openlookout.service.entries import IngestError, manifest_lines, parse_lines, with_stored_files
from openlookout.service.entry_rules import ingest
from openlookout.service.lookups import require_dataset
from openlookout.service.states import DATASET_FAILED, DATASET_STABLE, DatasetStatus
from openlookout.store import entries as repo
from openlookout.store import entry_queries

SYNC_EDIT_LIMIT = 20
EDIT_WAIT_SECONDS = 30.0
LABELS: tuple[Label, ...] = ("normal", "anomaly")


def edit_entries(
    runtime: Runtime, ctx: RequestContext, project_name: str, dataset_type: str, lines: Sequence[str]
) -> None:
    """Apply Ground Truth ``lines`` to entries of the dataset; returns once the dataset shows the outcome.

    ValidationException with the reason when a rule refuses the edit (the dataset is then in
    UPDATE_FAILED_ROLLBACK_COMPLETE), or when a background edit is still running after
    ``EDIT_WAIT_SECONDS``.
    """
    changes = "\n".join(lines).encode("utf-8")
    dataset = read_dataset(runtime, ctx, project_name, dataset_type)
    if dataset.status not in DATASET_STABLE:
        raise busy_conflict(project_name, dataset, "updated")
    if len(lines) <= SYNC_EDIT_LIMIT:
        _edit_now(runtime, project_name, dataset, changes)
        outcome: repo.DatasetRow | None = read_dataset(runtime, ctx, project_name, dataset_type)
    else:
        start_changes(runtime, project_name, dataset, changes, dataset_jobs.EDIT_ENTRIES)
        outcome = wait_until_updated(runtime, ctx, project_name, dataset_type, EDIT_WAIT_SECONDS)
    if outcome is None:
        raise ValidationException("The update is still running; reload the page in a moment to see it.")
    if outcome.status in DATASET_FAILED:
        raise ValidationException(outcome.status_message or "The update failed.")


def _edit_now(runtime: Runtime, project_name: str, dataset: repo.DatasetRow, changes: bytes) -> None:
    batch = parse_lines(manifest_lines(changes), base=None)
    if not batch.candidates and batch.error is None:
        raise ValidationException("Changes must hold at least one dataset entry.")

    def finish(conn: Connection, current: repo.DatasetRow) -> None:
        if current.status not in DATASET_STABLE:
            raise busy_conflict(project_name, current, "updated")
        repo.set_dataset_status(conn, current.id, DatasetStatus.UPDATE_COMPLETE, None, time.time())

    try:
        ingest(runtime, dataset.id, with_stored_files(runtime, dataset.id, batch), finish=finish)
    except IngestError as exc:
        with runtime.db.begin() as conn:
            repo.set_dataset_status(
                conn,
                dataset.id,
                DatasetStatus.ROLLBACK_COMPLETE,
                exc.message,
                time.time(),
                expect_status=DATASET_STABLE,
            )


def relabel(
    runtime: Runtime,
    ctx: RequestContext,
    project_name: str,
    dataset_type: str,
    refs: Sequence[str],
    label: str,
) -> None:
    """Give images ``refs`` of the dataset the label ``label`` (``normal`` or ``anomaly``).

    Each image keeps its stored Ground Truth line with the label changed: an anomaly keeps its mask
    and colour map; a normal image loses them (a normal image may not carry an anomaly mask).
    """
    chosen = next((known for known in LABELS if known == label), None)
    if chosen is None:
        raise ValidationException("Choose normal or anomaly as the label.")
    if not refs:
        raise ValidationException("Select at least one image to label.")
    wanted = list(dict.fromkeys(refs))
    with runtime.db.begin() as conn:
        dataset = require_dataset(conn, ctx, project_name, dataset_type)
        stored = entry_queries.stored_entries(conn, dataset.id, wanted)
    lines = [relabeled_line(stored[ref].entry_json if ref in stored else None, ref, chosen) for ref in wanted]
    edit_entries(runtime, ctx, project_name, dataset_type, lines)


def relabeled_line(stored: str | None, ref: str, label: Label) -> str:
    """The Ground Truth line that gives image ``ref`` the label ``label``, keeping what may stay."""
    try:
        entry = parse_line(stored, 1) if stored is not None else None
    except ManifestError:
        entry = None
    if entry is None:
        return render_entry(new_entry(ref, label))
    if label == "normal" and entry.mask_attribute is not None:
        dropped = (entry.mask_attribute, entry.mask_attribute + "-metadata")
        raw = {k: v for k, v in entry.raw.items() if k not in dropped}
        entry = dataclasses.replace(
            entry, raw=raw, mask_attribute=None, mask_ref=None, colors={}, background=()
        )
    return render_entry(dataclasses.replace(entry, label=label))
