"""Finding one image of a dataset for the labeling page: its entry, its neighbours, its files.

Neighbours follow ListDatasetEntries order (entries in the order they were first added), read
from the store for display; the entry itself comes through ListDatasetEntries so the page shows
exactly the Ground Truth line the API returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from openlookout.console.calls import call_sync, console_context, every_page
from openlookout.errors import ResourceNotFoundException, ValidationException
from openlookout.imaging.manifest import ManifestEntry, ManifestError, parse_line
from openlookout.service.context import Runtime
from openlookout.service.datasets import dataset_resource_id, require_dataset, require_project
from openlookout.store.entries import project_entries

UPDATE_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class DatasetImage:
    """One image of a dataset and where it sits in the dataset's order."""

    project_id: int
    entry: ManifestEntry
    image_sha256: str
    width: int
    height: int
    position: int
    total: int
    previous_ref: str | None
    next_ref: str | None


def _entry_line(runtime: Runtime, name: str, dataset_type: str, ref: str) -> ManifestEntry | None:
    params = {"ProjectName": name, "DatasetType": dataset_type, "SourceRefContains": ref}
    for number, line in enumerate(every_page(runtime, "ListDatasetEntries", params, "DatasetEntries"), 1):
        try:
            entry = parse_line(line, number)
        except ManifestError:
            continue
        if entry.source_ref == ref:
            return entry
    return None


def find_image(runtime: Runtime, name: str, dataset_type: str, ref: str) -> DatasetImage:
    """The image ``ref`` of the dataset; ResourceNotFoundException when the dataset lacks it."""
    if not ref:
        raise ValidationException("Name the image to label (the ref parameter is missing).")
    ctx = console_context(runtime)
    project = require_project(runtime, ctx, name)
    dataset = require_dataset(runtime, ctx, name, dataset_type)
    with runtime.db.begin() as conn:
        rows = sorted(
            (e for e in project_entries(conn, project.id) if e.dataset_type == dataset.dataset_type),
            key=lambda e: e.id,
        )
    index = next((i for i, row in enumerate(rows) if row.source_ref == ref), None)
    entry = _entry_line(runtime, name, dataset_type, ref) if index is not None else None
    if index is None or entry is None:
        raise ResourceNotFoundException(
            f"The {dataset_type} dataset of project {name} has no image {ref}.",
            resource_id=dataset_resource_id(name, dataset_type),
            resource_type="DATASET",
        )
    return DatasetImage(
        project_id=project.id,
        entry=entry,
        image_sha256=rows[index].image_sha256,
        width=project.image_width or 0,
        height=project.image_height or 0,
        position=index + 1,
        total=len(rows),
        previous_ref=rows[index - 1].source_ref if index > 0 else None,
        next_ref=rows[index + 1].source_ref if index + 1 < len(rows) else None,
    )


def apply_line(runtime: Runtime, name: str, dataset_type: str, line: str) -> None:
    """UpdateDatasetEntries with one Ground Truth line; waits for the update to end.

    The gallery's ``_update_entries`` writes its own fresh lines (no masks), so this sends the
    line it is given and waits the same way: until the dataset leaves UPDATE_IN_PROGRESS.
    """
    target = {"ProjectName": name, "DatasetType": dataset_type}
    call_sync(runtime, "UpdateDatasetEntries", {**target, "Changes": line.encode("utf-8")})
    deadline = time.monotonic() + UPDATE_WAIT_SECONDS
    while time.monotonic() < deadline:
        description = call_sync(runtime, "DescribeDataset", target)["DatasetDescription"]
        if description["Status"] != "UPDATE_IN_PROGRESS":
            if "FAILED" in description["Status"]:
                raise ValidationException(description.get("StatusMessage") or "The update failed.")
            return
        time.sleep(0.05)
    raise ValidationException("The update is still running; reload the page in a moment to see it.")
