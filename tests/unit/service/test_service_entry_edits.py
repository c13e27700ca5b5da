"""Edits of entries a dataset holds (service/entry_edits.py): a few lines apply within the call, more
through the ``dataset.edit_entries`` job; both with UpdateDatasetEntries' rules and end states, and
both reading each image (and kept mask) from the service's own copy, not from its source-ref."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.unit.service.dataset_support import CTX, Workspace, label_line, mask_line

from openlookout.errors import ConflictException, ValidationException
from openlookout.service import dataset_jobs, entry_edits
from openlookout.store import entries as repo
from openlookout.store.tables import jobs

RED = "#FF0000"


def _job_kinds(ws: Workspace) -> list[str]:
    with ws.runtime.db.begin() as conn:
        return [row.kind for row in conn.execute(select(jobs.c.kind))]


def _labels(ws: Workspace) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for entry in ws.entries():
        metadata = entry.get("anomaly-label-metadata") or {}
        found[entry["source-ref"]] = metadata.get("class-name")
    return found


def _imported(ws: Workspace, count: int) -> list[str]:
    """``count`` unlabeled images imported from local files, then the files deleted."""
    refs = [ws.image(f"incoming/part{i}.png", seed=700 + i) for i in range(count)]
    ws.project()
    ws.create_from_lines([json.dumps({"source-ref": ref}) for ref in refs])
    for ref in refs:
        Path(ref.removeprefix("file://")).unlink()
    return refs


def test_a_small_relabel_applies_in_the_call_without_a_job_or_the_original_files(ws: Workspace) -> None:
    refs = _imported(ws, 3)
    before = _job_kinds(ws)
    entry_edits.relabel(ws.runtime, CTX, "widgets", "train", refs[:2], "anomaly")
    assert _job_kinds(ws) == before  # nothing was queued: the change is already there
    assert ws.describe()["Status"] == "UPDATE_COMPLETE"
    assert _labels(ws) == {refs[0]: "anomaly", refs[1]: "anomaly", refs[2]: None}


def test_a_mask_kept_on_relabel_is_read_from_the_stored_copy(ws: Workspace) -> None:
    ref = ws.image("kept/a.png", seed=720)
    mask = ws.mask("kept/a-mask.png", [(RED, (2, 2, 12, 12))])
    ws.project()
    ws.create_from_lines([mask_line(ref, mask, {RED: "scratch"})])
    Path(ref.removeprefix("file://")).unlink()
    Path(mask.removeprefix("file://")).unlink()
    entry_edits.relabel(ws.runtime, CTX, "widgets", "train", [ref], "anomaly")
    [entry] = ws.entries()
    assert entry["anomaly-mask-ref"] == mask and ws.describe()["Status"] == "UPDATE_COMPLETE"
    entry_edits.relabel(ws.runtime, CTX, "widgets", "train", [ref], "normal")
    [entry] = ws.entries()
    assert "anomaly-mask-ref" not in entry and entry["anomaly-label-metadata"]["class-name"] == "normal"


def test_a_refused_edit_ends_like_a_failed_update(ws: Workspace) -> None:
    refs = _imported(ws, 1)
    missing = (ws.root / "never-written.png").as_uri()
    with pytest.raises(ValidationException, match=r"never-written\.png"):
        entry_edits.edit_entries(
            ws.runtime,
            CTX,
            "widgets",
            "train",
            [label_line(refs[0], "normal"), label_line(missing, "normal")],
        )
    described = ws.describe()
    assert described["Status"] == "UPDATE_FAILED_ROLLBACK_COMPLETE"
    assert "never-written.png" in described["StatusMessage"]
    assert _labels(ws) == {refs[0]: None}  # nothing of the refused edit was written


def test_an_edit_waits_for_no_running_update(ws: Workspace) -> None:
    refs = _imported(ws, 1)
    with ws.runtime.db.begin() as conn:
        dataset = repo.get_dataset_by_id(conn, 1)
        assert dataset is not None
        repo.set_dataset_status(conn, dataset.id, "UPDATE_IN_PROGRESS", None, 1.0)
    with pytest.raises(ConflictException, match="UPDATE_IN_PROGRESS"):
        entry_edits.relabel(ws.runtime, CTX, "widgets", "train", refs, "normal")


def test_a_bulk_relabel_goes_through_the_edit_job_and_reads_the_stored_copies(ws: Workspace) -> None:
    refs = _imported(ws, entry_edits.SYNC_EDIT_LIMIT + 1)
    entry_edits.relabel(ws.runtime, CTX, "widgets", "train", refs, "normal")
    assert dataset_jobs.EDIT_ENTRIES in _job_kinds(ws)
    assert ws.describe()["Status"] == "UPDATE_COMPLETE"
    assert set(_labels(ws).values()) == {"normal"}
